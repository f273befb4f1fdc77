// Command jsii2schema generates a Terraform provider schema document from a
// cdktn prebuilt provider package (the tarball `npm pack` downloads).
//
//	jsii2schema -package cdktn-provider-aws-25.7.0.tgz -out aws.schema.json.gz
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/jsiischema"
	"github.com/sluice-broker/sluice/infra/tools/tfschema-provider/internal/tfjson"
)

func main() {
	pkg := flag.String("package", "", "npm package tarball of a cdktn prebuilt provider")
	out := flag.String("out", "", "schema document to write (.json or .json.gz)")
	flag.Parse()
	if *pkg == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	start := time.Now()
	res, err := jsiischema.FromTarball(*pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsii2schema:", err)
		os.Exit(1)
	}
	if err := tfjson.Write(*out, res.Document); err != nil {
		fmt.Fprintln(os.Stderr, "jsii2schema:", err)
		os.Exit(1)
	}
	ps := res.Document.ProviderSchemas[res.ProviderAddress]
	fmt.Printf("jsii2schema: %s (Terraform provider %s %s): %d resources, %d data sources, %d ephemeral resources -> %s in %s\n",
		res.Package, res.ProviderAddress, res.ProviderVersion,
		len(ps.ResourceSchemas), len(ps.DataSourceSchemas), len(ps.EphemeralResourceSchemas),
		*out, time.Since(start).Round(100*time.Millisecond))
}
