// Package cli is burrow's command line: it turns flags (and, later,
// profiles) into one sandbox.Spec, runs it, and maps every failure to one
// line on stderr with the fix and a stable exit status:
//
//	125      burrow itself failed (bad flag, missing path, setup error)
//	126      the command was found but could not be executed
//	127      the command was not found
//	128+N    the command died of signal N
//	other    the command's own exit status
package cli
