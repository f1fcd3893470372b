package bootstrap

import "go.uber.org/fx"

// MessagingModule provides the send API, plan rate limits and the send worker.
var MessagingModule = fx.Module("messaging")
