// Package modules runs Ansible's remote modules on one host, each with
// Ansible 2.14's arguments, results and changed/ok decisions: commands
// and scripts as sessions over the host's connection, files through
// package transfer's push engine (copy, template) and over SFTP (fetch,
// stat). Arguments arrive rendered; loops, conditions and templating of
// arguments belong to the executor.
package modules
