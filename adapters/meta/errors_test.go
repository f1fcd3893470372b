package meta_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta"
)

// TestClassify covers every code of meta-cloud-api.md section 6, plus the fallbacks.
func TestClassify(t *testing.T) {
	t.Parallel()

	cases := []struct {
		code   int
		status int
		want   meta.Class
	}{
		// Broken credentials: reconnect the number.
		{0, 401, meta.ClassAuth},
		{190, 401, meta.ClassAuth},
		{10, 403, meta.ClassAuth},
		{200, 403, meta.ClassAuth},
		{230, 403, meta.ClassAuth},
		{299, 403, meta.ClassAuth},
		// Transient: retry with backoff.
		{1, 400, meta.ClassRetry},
		{2, 503, meta.ClassRetry},
		{131000, 500, meta.ClassRetry},
		{131016, 500, meta.ClassRetry},
		{133004, 503, meta.ClassRetry},
		// Throttled: retry after the wait (HTTP 400, not 429).
		{4, 400, meta.ClassThrottled},
		{80007, 400, meta.ClassThrottled},
		{130429, 400, meta.ClassThrottled},
		{131056, 400, meta.ClassThrottled},
		{131057, 500, meta.ClassThrottled},
		{132015, 400, meta.ClassThrottled},
		{133008, 400, meta.ClassThrottled},
		{133009, 400, meta.ClassThrottled},
		{133015, 400, meta.ClassThrottled},
		{133016, 400, meta.ClassThrottled},
		// Final: do not retry.
		{3, 500, meta.ClassFinal},
		{100, 400, meta.ClassFinal},
		{131008, 400, meta.ClassFinal},
		{131009, 400, meta.ClassFinal},
		{131021, 400, meta.ClassFinal},
		{131026, 400, meta.ClassFinal},
		{131030, 400, meta.ClassFinal},
		{131037, 400, meta.ClassFinal},
		{131047, 400, meta.ClassFinal},
		{131049, 400, meta.ClassFinal},
		{131050, 400, meta.ClassFinal},
		{131051, 400, meta.ClassFinal},
		{131052, 400, meta.ClassFinal},
		{131053, 400, meta.ClassFinal},
		{130472, 400, meta.ClassFinal},
		{130497, 400, meta.ClassFinal},
		{130497, 0, meta.ClassFinal},
		{131062, 400, meta.ClassFinal},
		{131063, 400, meta.ClassFinal},
		{131064, 400, meta.ClassFinal},
		{132000, 400, meta.ClassFinal},
		{132001, 404, meta.ClassFinal},
		{132005, 400, meta.ClassFinal},
		{132007, 400, meta.ClassFinal},
		{132008, 400, meta.ClassFinal},
		{132012, 400, meta.ClassFinal},
		{132016, 400, meta.ClassFinal},
		{132068, 400, meta.ClassFinal},
		{132069, 400, meta.ClassFinal},
		{133005, 400, meta.ClassFinal},
		{133006, 400, meta.ClassFinal},
		{135000, 400, meta.ClassFinal},
		{137000, 400, meta.ClassFinal},
		// Stop sending for the number / WABA and alert.
		{131031, 403, meta.ClassStop},
		{131042, 400, meta.ClassStop},
		{131045, 500, meta.ClassStop},
		{131048, 400, meta.ClassStop},
		{133010, 400, meta.ClassStop},
		{368, 403, meta.ClassStop},
		// Unknown codes: by status.
		{999999, 500, meta.ClassRetry},
		{999999, 503, meta.ClassRetry},
		{999999, 400, meta.ClassFinal},
		{999999, 404, meta.ClassFinal},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d_http%d", tc.code, tc.status), func(t *testing.T) {
			t.Parallel()
			err := &meta.Error{Code: tc.code, HTTPStatus: tc.status}
			require.Equal(t, tc.want, meta.Classify(err))
			// Wrapping does not change the class.
			require.Equal(t, tc.want, meta.Classify(fmt.Errorf("send job: %w", err)))
		})
	}

	t.Run("TransientFlagOnUnknownCode", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, meta.ClassRetry, meta.Classify(&meta.Error{Code: 424242, HTTPStatus: 400, IsTransient: true}))
	})
	t.Run("NonGraphErrors", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, meta.ClassNone, meta.Classify(nil))
		require.Equal(t, meta.ClassRetry, meta.Classify(context.DeadlineExceeded))
		require.Equal(t, meta.ClassRetry, meta.Classify(&net.OpError{Op: "dial", Err: errors.New("connection refused")}))
		require.Equal(t, meta.ClassRetry, meta.Classify(meta.ErrUnexpectedResponse))
		require.Equal(t, meta.ClassFinal, meta.Classify(fmt.Errorf("x: %w", meta.ErrInvalidRequest)))
	})
	t.Run("String", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "retry", meta.ClassRetry.String())
		require.Equal(t, "throttled", meta.ClassThrottled.String())
		require.Equal(t, "final", meta.ClassFinal.String())
		require.Equal(t, "auth", meta.ClassAuth.String())
		require.Equal(t, "stop", meta.ClassStop.String())
		require.Equal(t, "none", meta.ClassNone.String())
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()

	cases := map[int]time.Duration{
		130429: time.Second,
		131056: time.Second,
		4:      5 * time.Minute,
		80007:  5 * time.Minute,
		131057: time.Minute,
		132015: 3 * time.Hour,
		133015: 5 * time.Minute,
		131000: 0,
		100:    0,
	}
	for code, want := range cases {
		require.Equal(t, want, meta.RetryAfter(&meta.Error{Code: code, HTTPStatus: 400}), "code %d", code)
	}
	require.Zero(t, meta.RetryAfter(errors.New("boom")))
	require.Zero(t, meta.RetryAfter(nil))
}

func TestPairLimitBackoff(t *testing.T) {
	t.Parallel()

	require.Equal(t, time.Second, meta.PairLimitBackoff(-3))
	require.Equal(t, time.Second, meta.PairLimitBackoff(0))
	require.Equal(t, 4*time.Second, meta.PairLimitBackoff(1))
	require.Equal(t, 16*time.Second, meta.PairLimitBackoff(2))
	require.Equal(t, 64*time.Second, meta.PairLimitBackoff(3))
	require.Equal(t, 256*time.Second, meta.PairLimitBackoff(4))
	require.Equal(t, 15*time.Minute, meta.PairLimitBackoff(5))
	require.Equal(t, 15*time.Minute, meta.PairLimitBackoff(1000))
}

func TestErrorParsing(t *testing.T) {
	t.Parallel()

	t.Run("WithErrorData", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
				"type":"OAuthException","code":131056,"error_subcode":2494055,"is_transient":false,
				"error_user_title":"Slow down","error_user_msg":"Too many messages",
				"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."},
				"fbtrace_id":"AbCdEf123"}}`))
		})
		_, err := b.client.SendMessage(context.Background(), "tok", "123", map[string]any{"messaging_product": "whatsapp"})
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.Equal(t, http.StatusBadRequest, ge.HTTPStatus)
		require.Equal(t, 131056, ge.Code)
		require.Equal(t, 2494055, ge.Subcode)
		require.Equal(t, "OAuthException", ge.Type)
		require.Contains(t, ge.Message, "pair rate limit hit")
		require.Contains(t, ge.Details, "too many messages sent from this phone number")
		require.Equal(t, "Slow down", ge.UserTitle)
		require.Equal(t, "Too many messages", ge.UserMessage)
		require.Equal(t, "AbCdEf123", ge.FBTraceID)
		require.False(t, ge.IsTransient)
		require.Equal(t, meta.ClassThrottled, meta.Classify(err))
		require.Contains(t, err.Error(), "131056")
		require.Contains(t, err.Error(), "AbCdEf123")
	})

	t.Run("WithoutErrorData", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"X1"}}`))
		})
		_, err := b.client.GetPhoneNumber(context.Background(), "tok", "123")
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.Equal(t, 190, ge.Code)
		require.Equal(t, 463, ge.Subcode)
		require.Empty(t, ge.Details)
		require.Equal(t, meta.ClassAuth, meta.Classify(err))
	})

	t.Run("ErrorDataAsString", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid parameter","type":"OAuthException","code":"100","error_data":"{\"details\":\"name is taken\"}"}}`))
		})
		err := b.client.SubscribeApp(context.Background(), "tok", "123")
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.Equal(t, 100, ge.Code)
		require.Equal(t, "name is taken", ge.Details)
	})

	t.Run("NotAGraphBody", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("fields") != "" {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html>bad gateway</html>"))
				return
			}
			w.WriteHeader(http.StatusNotFound)
		})
		_, err := b.client.GetPhoneNumber(context.Background(), "tok", "123")
		var ge *meta.Error
		require.ErrorAs(t, err, &ge)
		require.Equal(t, http.StatusBadGateway, ge.HTTPStatus)
		require.Equal(t, meta.ClassRetry, meta.Classify(err))

		err = b.client.SubscribeApp(context.Background(), "tok", "123")
		require.ErrorAs(t, err, &ge)
		require.Equal(t, http.StatusNotFound, ge.HTTPStatus)
		require.Equal(t, meta.ClassFinal, meta.Classify(err), "a bare 404 is not an auth problem even though Code is 0")
	})

	t.Run("UsageHeaderWinsForRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Business-Use-Case-Usage", `{"102290129340398":[{"type":"whatsapp_business_management","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":12}]}`)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"(#80007) Rate limit issues","type":"OAuthException","code":80007}}`))
		})
		_, err := b.client.ListTemplates(context.Background(), "tok", "123")
		require.Equal(t, meta.ClassThrottled, meta.Classify(err))
		require.Equal(t, 12*time.Minute, meta.RetryAfter(err))
	})
}
