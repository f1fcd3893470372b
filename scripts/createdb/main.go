// Command createdb creates a database if it does not exist: `createdb ADMIN_URL NAME`.
// It keeps `make run` free of a psql dependency.
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/jackc/pgx/v5"
)

func main() {
	if len(os.Args) != 3 || !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(os.Args[2]) {
		fmt.Fprintln(os.Stderr, "usage: createdb ADMIN_URL NAME (lowercase letters, digits, _)")
		os.Exit(2)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "createdb:", err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, os.Args[2]).Scan(&exists); err != nil {
		fmt.Fprintln(os.Stderr, "createdb:", err)
		os.Exit(1)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "createdb:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "created database %s\n", os.Args[2])
	}
}
