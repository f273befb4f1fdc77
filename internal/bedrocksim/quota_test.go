package bedrocksim

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func quotaConfig(window time.Duration, model string, q QuotaConfig) Config {
	return Config{
		Window:         window,
		DefaultAccount: DefaultAccountID,
		Accounts:       []AccountConfig{{ID: DefaultAccountID, Quotas: map[string]QuotaConfig{model: q}}},
	}
}

// prompt is a user message whose token count is easy to predict.
func prompt(directive ...string) (types.Message, int) {
	text := "count these tokens\n" + Directive(directive...)
	return userText(text), (len(text) + 3) / 4
}

func isThrottled(err error) bool {
	var te *types.ThrottlingException
	return errors.As(err, &te)
}

func TestQuotaBurstIsThrottledWhenTheBucketIsOut(t *testing.T) {
	// A long window makes refill negligible during the burst (33 tokens/s).
	s, url := newSim(t, quotaConfig(30*time.Second, nova, QuotaConfig{TPM: 1000}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	msg, input := prompt("output_tokens", "5000") // always runs to maxTokens: charge == reservation
	maxTokens := 300 - input
	for i := 1; i <= 3; i++ {
		if _, err := client.Converse(ctx, converseInput(nova, int32(maxTokens), msg)); err != nil {
			t.Fatalf("call %d of 3 × 300 tokens within TPM 1000: %v", i, err)
		}
	}
	_, err := client.Converse(ctx, converseInput(nova, int32(maxTokens), msg))
	if !isThrottled(err) {
		t.Fatalf("4th call of 300 with ~100 left: err = %v, want ThrottlingException", err)
	}
	// A smaller reservation still fits in what is left.
	if _, err := client.Converse(ctx, converseInput(nova, int32(90-input), msg)); err != nil {
		t.Fatalf("call of 90 tokens with ~100 left: %v", err)
	}

	tot := s.Stats().Model(DefaultAccountID, nova).Totals
	if tot.Admitted != 4 || tot.Throttled != 1 || tot.ChargedTokens != 990 || tot.ReservedTokens != 990 {
		t.Errorf("totals %+v, want 4 admitted, 1 throttled, 990 reserved and charged", tot)
	}
}

func TestQuotaReservationThenSettlementWithBurndown(t *testing.T) {
	// A one-hour window: refill is under 30 tokens/s.
	s, url := newSim(t, quotaConfig(time.Hour, sonnet, QuotaConfig{TPM: 50000}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)

	short, in1 := prompt("output_tokens", "10")
	if _, err := client.Converse(ctx, converseInput(sonnet, 200, short)); err != nil {
		t.Fatal(err)
	}
	long, in2 := prompt("output_tokens", "20")
	if _, err := client.Converse(ctx, converseInput(sonnet, 20, long)); err != nil {
		t.Fatal(err)
	}

	ms := s.Stats().Model(DefaultAccountID, sonnet)
	reserved := int64(in1 + 200 + in2 + 20)
	charged := int64(in1 + 10*5 + in2 + 20*5) // the second call costs more than it reserved
	tot := ms.Totals
	if tot.ReservedTokens != reserved || tot.ChargedTokens != charged || tot.OutputTokens != 30 || tot.InFlight != 0 {
		t.Errorf("totals %+v, want reserved %d, charged %d, 30 output tokens", tot, reserved, charged)
	}
	if ms.BucketTokens == nil {
		t.Fatal("bucket_tokens missing for a TPM lane")
	}
	if level, low := *ms.BucketTokens, float64(50000-charged); level < low || level > low+300 {
		t.Errorf("bucket at %.0f, want about 50000 - %d charged", level, charged)
	}
	if ms.Quota.TPM != 50000 || ms.Quota.Burndown != 5 || ms.FirstAdmitted == nil || ms.LastAdmitted.Before(*ms.FirstAdmitted) {
		t.Errorf("quota %+v first %v last %v", ms.Quota, ms.FirstAdmitted, ms.LastAdmitted)
	}

	// Without maxTokens the reservation is the model's maximum output
	// (64000 for Sonnet 4), which never fits in a TPM of 50000.
	_, err := client.Converse(ctx, converseInput(sonnet, 0, short))
	if !isThrottled(err) {
		t.Fatalf("unbounded maxTokens: err = %v, want ThrottlingException", err)
	}
}

func TestQuotaRefillsOverTheWindow(t *testing.T) {
	s, url := newSim(t, quotaConfig(time.Second, nova, QuotaConfig{TPM: 1000}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	msg, input := prompt("output_tokens", "5000")
	in := converseInput(nova, int32(900-input), msg)

	if _, err := client.Converse(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Converse(ctx, in); !isThrottled(err) {
		t.Fatalf("second 900-token call right away: err = %v, want ThrottlingException", err)
	}
	time.Sleep(1100 * time.Millisecond) // more than a window: the bucket is full again
	if _, err := client.Converse(ctx, in); err != nil {
		t.Fatalf("after a window: %v", err)
	}

	ms := s.Stats().Model(DefaultAccountID, nova)
	var admitted, throttled int64
	for _, w := range ms.Windows {
		admitted += w.Admitted
		throttled += w.Throttled
	}
	if len(ms.Windows) < 2 || admitted != 2 || throttled != 1 || ms.Totals.Admitted != 2 {
		t.Errorf("windows %+v totals %+v: want 2 windows holding 2 admitted and 1 throttled", ms.Windows, ms.Totals)
	}
}

func TestQuotaRequestsAndTokensPerDay(t *testing.T) {
	cfg := Config{DefaultAccount: DefaultAccountID, Accounts: []AccountConfig{{ID: DefaultAccountID, Quotas: map[string]QuotaConfig{
		nova:   {RPM: 2},
		sonnet: {TPD: 500},
	}}}}
	_, url := newSim(t, cfg)
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	msg, input := prompt()

	for i := range 2 {
		if _, err := client.Converse(ctx, converseInput(nova, 10, msg)); err != nil {
			t.Fatalf("RPM call %d: %v", i+1, err)
		}
	}
	if _, err := client.Converse(ctx, converseInput(nova, 10, msg)); !isThrottled(err) {
		t.Fatalf("3rd call with RPM 2: err = %v, want ThrottlingException", err)
	}

	if _, err := client.Converse(ctx, converseInput(sonnet, int32(300-input), msg)); err != nil {
		t.Fatalf("first TPD call: %v", err)
	}
	if _, err := client.Converse(ctx, converseInput(sonnet, int32(300-input), msg)); !isThrottled(err) {
		t.Fatalf("second 300-token reservation with TPD 500: err = %v, want ThrottlingException", err)
	}
}

func TestReservedPeakCountsConcurrentCalls(t *testing.T) {
	s, url := newSim(t, quotaConfig(time.Hour, nova, QuotaConfig{TPM: 100000}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	msg, input := prompt("ttft_ms", "500")

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := client.Converse(ctx, converseInput(nova, 100, msg)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak := s.Stats().Model(DefaultAccountID, nova).Totals.ReservedPeak; peak != int64(2*(input+100)) {
		t.Errorf("reserved_peak = %d, want two overlapping reservations of %d", peak, input+100)
	}
}

func TestStatsEndpointAndReset(t *testing.T) {
	_, url := newSim(t, quotaConfig(time.Hour, nova, QuotaConfig{TPM: 1000, RPM: 50}))
	client := bedrockClient(url, awsConfig(baseCreds()))
	ctx := ctxTimeout(t)
	msg, _ := prompt("output_tokens", "5000")
	for {
		if _, err := client.Converse(ctx, converseInput(nova, 400, msg)); err != nil {
			if !isThrottled(err) {
				t.Fatal(err)
			}
			break
		}
	}

	get := func() Stats {
		resp, err := http.Get(url + "/_sim/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st Stats
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatalf("decode stats: %v", err)
		}
		return st
	}
	st := get()
	ms := st.Model(DefaultAccountID, nova)
	if ms.Totals.Admitted != 2 || ms.Totals.Throttled != 1 || ms.Quota.RPM != 50 || st.WindowMs != 3600000 {
		t.Errorf("stats over HTTP: window %d, %+v", st.WindowMs, ms)
	}

	resp, err := http.Post(url+"/_sim/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %s", resp.Status)
	}
	ms = get().Model(DefaultAccountID, nova)
	if ms.Totals != (Totals{}) || ms.BucketTokens == nil || *ms.BucketTokens != 1000 {
		t.Errorf("after reset: totals %+v bucket %v, want zero and full", ms.Totals, ms.BucketTokens)
	}
	if _, err := client.Converse(ctx, converseInput(nova, 400, msg)); err != nil {
		t.Fatalf("after reset the bucket is full again: %v", err)
	}
}

func TestUnlimitedModelHasStatsButNoBucket(t *testing.T) {
	s, url := newSim(t, Config{})
	if _, err := bedrockClient(url, awsConfig(baseCreds())).Converse(ctxTimeout(t), converseInput(nova, 0, userText("x"))); err != nil {
		t.Fatal(err)
	}
	ms := s.Stats().Model(DefaultAccountID, nova)
	if ms.Totals.Admitted != 1 || ms.BucketTokens != nil || ms.Totals.ReservedTokens != int64(1+5000) {
		t.Errorf("unlimited lane: %+v bucket %v", ms.Totals, ms.BucketTokens)
	}
}
