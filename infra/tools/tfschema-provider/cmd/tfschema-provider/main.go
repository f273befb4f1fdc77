// Command tfschema-provider serves a provider schema document as a Terraform
// provider plugin, for offline `terraform validate` through dev_overrides.
// Install it as terraform-provider-<name> in the dev_overrides directory.
//
// The schema is read from $TFSCHEMA_FILE, or else from schema.json.gz next to
// the executable.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/provider"
	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

const address = "registry.terraform.io/hashicorp/aws"

func main() {
	path := os.Getenv("TFSCHEMA_FILE")
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			fail(err)
		}
		path = filepath.Join(filepath.Dir(exe), "schema.json.gz")
	}
	doc, err := tfjson.Read(path)
	if err != nil {
		fail(err)
	}
	srv, err := provider.New(doc, "")
	if err != nil {
		fail(err)
	}
	if err := tf6server.Serve(address, func() tfprotov6.ProviderServer { return srv }); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tfschema-provider:", err)
	os.Exit(1)
}
