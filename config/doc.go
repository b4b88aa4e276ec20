// Package config reads burrow's TOML profiles: the built-in ones, the
// user's config, a project's burrow.toml, named profiles, and the
// profiles they extend. It decodes strictly (every error carries
// FILE:LINE:COL and the fix), merges layers while remembering where each
// value came from, works out what a project profile asks for beyond the
// user's own settings, and keeps the record of trusted project profiles.
//
// It makes no system calls beyond reading and writing its files.
package config
