package domain

// FeedEvent is one entry of a workspace's inbox feed (the inbox_events table): what the
// team inbox shows happened, appended in the transaction of the change, whichever path
// made it (a webhook, an API call, a worker).
type FeedEvent struct {
	WorkspaceID ID
	Kind        string // one of the Feed* kinds
	ContactID   *ID
	MessageID   *ID
	Payload     map[string]any
}

// Feed event kinds.
const (
	FeedMessageReceived = "message.received"
	FeedMessageStatus   = "message.status"
	FeedContactOptedOut = "contact.opted_out"
	FeedContactOptedIn  = "contact.opted_in"
	FeedContactUpdated  = "contact.updated"
)
