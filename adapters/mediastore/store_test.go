package mediastore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/mediastore"
)

// Every scheme this build links in passes the start-up check and opens (opening a cloud
// bucket reads its credentials and region, and touches no network); the others are
// refused with the list of what the build opens.
func TestSchemes(t *testing.T) {
	// Credentials from the environment, so that nothing looks for them elsewhere (the AWS
	// SDK's instance metadata, Azure's default credential chain).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "wabamedia")
	t.Setenv("AZURE_STORAGE_KEY", "c2VjcmV0") // base64
	for _, u := range []string{"file://" + t.TempDir(), "mem://", "s3://waba-media?region=eu-west-1",
		"s3://waba-media?endpoint=https://minio.example.com&use_path_style=true", "azblob://waba-media"} {
		require.NoError(t, mediastore.CheckURL(u), u)
		s, err := mediastore.Open(context.Background(), u)
		require.NoError(t, err, u)
		require.NoError(t, s.Close())
	}
	require.ElementsMatch(t, []string{"azblob://", "file://", "mem://", "s3://"}, mediastore.Schemes())
	for _, u := range []string{"gs://waba-media", "ftp://host/dir", "azureblob://x", "media", "file://"} {
		require.Error(t, mediastore.CheckURL(u), u)
	}
	require.ErrorContains(t, mediastore.CheckURL("gs://waba-media"), "azblob://, file://, mem://, s3://")
}
