// Package migrations embeds the app schema, applied by golang-migrate (`waba migrate`).
// Files are NNNN_name.up.sql / .down.sql; never edit or renumber one that has been applied.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
