// Command burrow runs programs in rootless sandboxes.
package main

import (
	"os"

	"github.com/burrow-sandbox/burrow/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
