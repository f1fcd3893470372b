package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ab", domain.TruncateRunes("abc", 2))
	require.Equal(t, "日本", domain.TruncateRunes("日本語", 2), "never inside a character")
	require.Equal(t, "abc", domain.TruncateRunes("abc", 3))
}
