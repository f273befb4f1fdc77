package jsiischema

import (
	"strings"
	"testing"
)

// A cut-down lib/ecs-service/index.js in the shape cdktn generates.
const ecsServiceJS = `
function ecsServiceNetworkConfigurationToHclTerraform(struct) {
    const attrs = {
        assign_public_ip: {
            value: cdktn.booleanToHclTerraform(struct.assignPublicIp),
            isBlock: false,
            type: "simple",
            storageClassType: "boolean",
        },
        subnets: {
            value: cdktn.listMapperHcl(cdktn.stringToHclTerraform, false)(struct.subnets),
            isBlock: false,
            type: "set",
            storageClassType: "stringList",
        },
    };
}
class EcsServiceNetworkConfigurationOutputReference extends cdktn.ComplexObject {
    // subnets - computed: false, optional: false, required: true
    _subnets;
    get subnets() {
        return cdktn.Fn.tolist(this.getListAttribute('subnets'));
    }
}
class EcsService extends cdktn.TerraformResource {
    // arn - computed: true, optional: false, required: false
    get arn() {
        return this.getStringAttribute('arn');
    }
    // load_balancer - computed: false, optional: true, required: false
    _loadBalancer = new EcsServiceLoadBalancerList(this, "load_balancer", true);
    synthesizeHclAttributes() {
        const attrs = {
            load_balancer: {
                value: cdktn.listMapperHcl(ecsServiceLoadBalancerToHclTerraform, true)(this._loadBalancer.internalValue),
                isBlock: true,
                type: "set",
                storageClassType: "EcsServiceLoadBalancerList",
            },
            timeouts: {
                value: ecsServiceTimeoutsToHclTerraform(this._timeouts.internalValue),
                isBlock: true,
                type: "struct",
                storageClassType: "EcsServiceTimeouts",
            },
        };
    }
}
`

func TestParseJS(t *testing.T) {
	info, err := parseJS(strings.NewReader(ecsServiceJS))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ctx, name string
		want      hclEntry
	}{
		{"ecsservicenetworkconfiguration", "subnets", hclEntry{isBlock: false, kind: "set"}},
		{"ecsservicenetworkconfiguration", "assign_public_ip", hclEntry{isBlock: false, kind: "simple"}},
		{"ecsservice", "load_balancer", hclEntry{isBlock: true, kind: "set"}},
		{"ecsservice", "timeouts", hclEntry{isBlock: true, kind: "struct"}},
	} {
		if got := info.hcl[c.ctx][c.name]; got != c.want {
			t.Errorf("hcl[%s][%s] = %+v, want %+v", c.ctx, c.name, got, c.want)
		}
	}
	if g := info.getters["ecsservice"]["arn"]; g.tfName != "arn" || !g.computed || g.optional {
		t.Errorf("arn getter = %+v", g)
	}
	if g := info.getters["ecsservice"]["loadBalancer"]; g.tfName != "load_balancer" || !g.set {
		t.Errorf("loadBalancer getter = %+v", g)
	}
	if g := info.getters["ecsservicenetworkconfigurationoutputreference"]["subnets"]; !g.set || !g.required {
		t.Errorf("subnets getter = %+v", g)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"arn": "arn", "visibilityTimeoutSeconds": "visibility_timeout_seconds", "cidrIpv4": "cidr_ipv4"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
