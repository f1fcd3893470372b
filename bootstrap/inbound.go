package bootstrap

import "go.uber.org/fx"

// InboundModule provides the Meta webhook endpoint and the inbound processing.
var InboundModule = fx.Module("inbound")
