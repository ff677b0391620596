package muxconn

// ServeAgentKeys is serveAgentKeys, for the package's external tests.
var ServeAgentKeys = serveAgentKeys
