package postgres

// ErasedTableNames are the tables the workspace erasure empties, for the test that checks
// none is forgotten.
func ErasedTableNames() []string {
	names := make([]string, len(erasedTables))
	for i, t := range erasedTables {
		names[i] = t.name
	}
	return names
}
