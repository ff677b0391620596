// Package diag carries what fleet's loaders have to say about their input:
// errors and warnings that name the file and line, say what is wrong, and
// say what to do about it. The CLI decides how to print them.
package diag
