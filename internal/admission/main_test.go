package admission

import (
	"testing"

	"github.com/sluice-broker/sluice/internal/testenv"
)

func TestMain(m *testing.M) { testenv.LeakMain(m) }
