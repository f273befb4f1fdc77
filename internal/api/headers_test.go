package api

import "testing"

func TestNoRetry(t *testing.T) {
	for _, tc := range []struct {
		status int
		ofJob  bool
		want   bool
	}{
		{400, false, true}, {401, false, true}, {404, false, true}, {409, false, true}, {422, false, true},
		{408, false, false}, {429, false, false}, // the SDKs' own retry is right for these
		{500, false, false}, {503, false, false}, // no job exists yet: retrying is safe
		{502, true, true}, {504, true, true}, {400, true, true}, // the worker already retried, or the job goes on
		{429, true, false}, {503, true, false}, // an expired job, a model no account serves now: after Retry-After
	} {
		if got := noRetry(tc.status, tc.ofJob); got != tc.want {
			t.Errorf("noRetry(%d, job %v) = %v", tc.status, tc.ofJob, got)
		}
	}
}
