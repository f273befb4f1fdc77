package main

import "testing"

// SLUICE_CONFIG works like -config, -config wins over it, and relative paths
// are the caller's (scripts/dev runs devstack from the repository root).
func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("SLUICE_DEV_CWD", "/home/me/project")
	t.Setenv("SLUICE_CONFIG", "litellm.yaml")
	if o := stackFlags(nil); o.SluiceConfig != "/home/me/project/litellm.yaml" {
		t.Errorf("SLUICE_CONFIG=litellm.yaml: config %q", o.SluiceConfig)
	}
	if o := stackFlags([]string{"-config", "/etc/sluice.yaml", "-sim-config", "sim.yaml"}); o.SluiceConfig != "/etc/sluice.yaml" || o.SimConfig != "/home/me/project/sim.yaml" {
		t.Errorf("-config /etc/sluice.yaml -sim-config sim.yaml: %q, %q", o.SluiceConfig, o.SimConfig)
	}
}
