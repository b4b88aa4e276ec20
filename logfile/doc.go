// Package logfile stores the output of a detached sandbox and reads it
// back for burrow logs.
//
// The format is the CRI container log format that Kubernetes' kubelet and
// CRI-O write (one record per line: an RFC 3339 time with nanoseconds,
// the stream, F for a full line or P for part of one, then the text), so
// that tools which read CRI logs read burrow's. The file is capped: when a
// record would take it over its limit it is renamed to NAME.1 (replacing
// the previous one) and a new file begins, so a chatty sandbox uses at
// most twice the limit.
package logfile
