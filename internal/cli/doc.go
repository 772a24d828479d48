// Package cli is recoflow's command-line interface: one cobra command per
// subcommand, each in its own file, configured by flags, RECOFLOW_*
// environment variables and an optional YAML config file (in that order of
// precedence).
//
// The CLI takes its input, output and environment from Options, so tests run
// it in-process exactly as a user would from a shell.
package cli
