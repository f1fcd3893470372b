package webhook

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUserPreferenceIdentity(t *testing.T) {
	t.Parallel()
	v := &Value{Contacts: []Contact{{WaID: "16505551234", UserID: "US.111", Profile: Profile{Name: "Ana"}}}}
	waID, bsuid, name := (&UserPreference{WaID: "16505551234"}).Identity(v)
	require.Equal(t, [3]string{"16505551234", "US.111", "Ana"}, [3]string{waID, bsuid, name})

	// A username user: the "wa_id" is a BSUID, never digits to be read as a phone number.
	waID, bsuid, _ = (&UserPreference{WaID: "US.13491208655302741918"}).Identity(&Value{})
	require.Empty(t, waID)
	require.Equal(t, "US.13491208655302741918", bsuid)

	waID, bsuid, _ = (&UserPreference{WaID: "+4477", UserID: "GB.9"}).Identity(&Value{})
	require.Equal(t, "4477", waID)
	require.Equal(t, "GB.9", bsuid)
}
