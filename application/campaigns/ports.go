package campaigns

import (
	"context"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/events"
	"github.com/wabaplatform/waba/domain"
)

// Filter narrows the list of campaigns.
type Filter struct {
	Status domain.CampaignStatus // "" for every status
	Cursor domain.ID             // the last campaign of the previous page (newest first)
}

// RecipientFilter narrows the list of a campaign's recipients.
type RecipientFilter struct {
	Status domain.RecipientStatus // "" for every status
	Cursor domain.ID              // the contact id of the last recipient of the previous page
}

// Ref names one campaign.
type Ref struct {
	WorkspaceID domain.ID
	ID          domain.ID
}

// Store reads campaigns outside transactions. Campaigns come with their stats.
type Store interface {
	// Get returns one campaign; KindNotFound when the workspace has none with that id.
	Get(ctx context.Context, workspaceID, id domain.ID) (domain.Campaign, error)
	// List returns up to n campaigns of f, newest first.
	List(ctx context.Context, workspaceID domain.ID, f Filter, n int) ([]domain.Campaign, error)
	// Recipients returns up to n recipients of f, by contact id, newest contact first.
	Recipients(ctx context.Context, workspaceID, campaignID domain.ID, f RecipientFilter, n int) ([]domain.Recipient, error)
	// Due lists up to n scheduled campaigns (of any workspace) whose time is not after now,
	// and Running up to n running ones: what the leader's periodic job looks after.
	Due(ctx context.Context, now time.Time, n int) ([]Ref, error)
	Running(ctx context.Context, n int) ([]Ref, error)
	// Sending lists the workspace's scheduled and running campaigns of a template (its
	// name and language): those a stop rule on the template pauses.
	Sending(ctx context.Context, workspaceID domain.ID, name, language string) ([]Ref, error)
	// OptedOut marks, once, the contact's recipients of running campaigns that it was sent
	// to, and returns each such campaign with its opt-outs counted so far.
	OptedOut(ctx context.Context, workspaceID, contactID domain.ID, at time.Time) ([]OptOuts, error)
}

// OptOuts is a running campaign's count of recipients who opted out after it reached them.
type OptOuts struct {
	Ref
	OptOuts int
}

// Writer writes campaigns in the current transaction.
type Writer interface {
	Insert(ctx context.Context, c domain.Campaign) error
	// Lock reads a campaign (with its stats) and locks its row until the transaction ends:
	// every change of a campaign, and each of its batches, takes this lock first.
	Lock(ctx context.Context, workspaceID, id domain.ID) (domain.Campaign, error)
	// Update writes every mutable field (not the stats).
	Update(ctx context.Context, c domain.Campaign) error
	// Snapshot takes the audience into pending recipients in one set-based statement (the
	// workspace's contacts it names, each once) and counts them; it returns how many.
	Snapshot(ctx context.Context, c domain.Campaign, at time.Time) (int, error)
}

// Candidate is a pending recipient a batch may send to, with its contact as it is now.
type Candidate struct {
	ContactID domain.ID
	Contact   *domain.Contact // nil: the contact was deleted since the audience was taken
	// Marketing is the contact's marketing history (read for MARKETING templates only).
	Marketing domain.MarketingHistory
}

// Batch is the next recipients of a campaign, and the workspace's frequency caps when
// the batch is of a MARKETING template.
type Batch struct {
	Candidates []Candidate
	Caps       domain.MessagingSettings
}

// Queued is a recipient whose message a batch queued.
type Queued struct {
	ContactID domain.ID
	MessageID domain.ID
}

// Skipped is a recipient a batch will not send to, and why (domain.Skip...).
type Skipped struct {
	ContactID domain.ID
	Reason    string
}

// Batches takes a running campaign's pending recipients in turn, in the transaction that
// holds the campaign's lock, and records what became of them. The recipient counters
// move in the statements that move recipients.
type Batches interface {
	// Next returns up to n recipients to send to: first those whose retry is due (status
	// retry_scheduled, next attempt not after now), earliest first, then pending ones that
	// have no message yet, in contact order. marketingSince set (a MARKETING template) locks
	// their contacts until the transaction ends, as the send API's cap check does, and
	// reads what the caps weigh: each contact's marketing templates queued after it, its
	// hold, and the workspace's caps.
	Next(ctx context.Context, workspaceID, campaignID domain.ID, n int, now time.Time, marketingSince *time.Time) (Batch, error)
	// Record gives each queued recipient its message (one more attempt; a retried one is
	// pending again) and each skipped one its reason. A recipient that is neither pending
	// without a message nor waiting for its retry is an error: nothing may have changed it
	// under the campaign's lock.
	Record(ctx context.Context, workspaceID, campaignID domain.ID, queued []Queued, skipped []Skipped, at time.Time) error
	// SkipPending skips every pending recipient without a message, and every one waiting
	// for a retry, with reason, and says how many.
	SkipPending(ctx context.Context, workspaceID, campaignID domain.ID, reason string, at time.Time) (int, error)
	// Counts are the campaign's recipients by status (the counters' sums).
	Counts(ctx context.Context, workspaceID, campaignID domain.ID) (map[domain.RecipientStatus]int, error)
}

// Tracked is the recipient of a campaign's message, as it stands, with what its retry
// rule weighs (domain.CampaignRetry).
type Tracked struct {
	WorkspaceID    domain.ID
	CampaignID     domain.ID
	ContactID      domain.ID
	MessageID      domain.ID // zero for a recipient found by a reply
	Status         domain.RecipientStatus
	Attempts       int
	FirstAttemptAt time.Time
	RetryDays      int // the workspace's campaign_retry_days
}

// Change moves a recipient From one status To another: with Meta's error for failed and
// retry_scheduled, the time of the next attempt for retry_scheduled (which also detaches
// the recipient's message), and the time of the delivery when it reaches delivered or read.
type Change struct {
	WorkspaceID   domain.ID
	CampaignID    domain.ID
	ContactID     domain.ID
	From, To      domain.RecipientStatus
	Error         *domain.MessageError
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
}

// Reply is an inbound message of a contact, which may answer the campaigns that reached it.
type Reply struct {
	WorkspaceID domain.ID
	ContactID   domain.ID
	At          time.Time
}

// Progress advances recipients from what became of their messages and from their
// contacts' replies, in the transaction of the capability that learned it (the webhooks'
// processing, the send worker), which may span workspaces.
type Progress interface {
	// Track finds and locks the recipients whose message is one of ms (each message names
	// its workspace and campaign; the message of an earlier attempt finds nothing).
	Track(ctx context.Context, ms []domain.Message) ([]Tracked, error)
	// Replied finds and locks, in one statement, the recipients of the replies' contacts
	// that are delivered or read and whose delivery was at most window before a reply.
	Replied(ctx context.Context, replies []Reply, window time.Duration) ([]Tracked, error)
	// Advance applies, in one statement, the changes whose recipient is still at From,
	// with the counters.
	Advance(ctx context.Context, changes []Change, at time.Time) error
}

// Outbox queues a batch's messages in the current transaction: each message row (queued,
// with its campaign), its conversation's last message and its event, in one round trip.
type Outbox interface {
	QueueAll(ctx context.Context, ms []domain.Message, evs []domain.Occurrence) error
}

// Jobs enqueues the campaign's work in the current transaction (the outbox).
type Jobs interface {
	// EnqueueCampaignSend queues the campaign's send job unless it has one already.
	EnqueueCampaignSend(ctx context.Context, workspaceID, campaignID domain.ID) error
	// EnqueueSends queues the send jobs of queued messages at a River priority (1 first,
	// 4 last).
	EnqueueSends(ctx context.Context, workspaceID domain.ID, messageIDs []domain.ID, priority int) error
}

// Wallet holds the estimated price of a batch's messages in a prepaid workspace (billing's
// ledger), in the batch's transaction.
type Wallet interface {
	// Reserve holds the prices of holds, all or none: KindInsufficientBalance when the
	// available balance cannot cover them. A postpaid workspace holds nothing.
	Reserve(ctx context.Context, ws domain.ID, holds []domain.Hold, at time.Time) error
}

// Importer writes an uploaded recipient list in the current transaction: its rows into
// the workspace's contacts as contacts.Store.Import does, and each accepted row's contact
// into the campaign's pending recipients, once, with the pending counter. It reads every
// row first, then calls lock (which locks the campaign and checks it may still gain
// recipients) and writes only if lock returns nil: a slow upload never holds the
// campaign's lock. added counts the recipients the campaign gained. It returns rows.Err()
// when that stopped the rows.
type Importer interface {
	ImportRecipients(ctx context.Context, workspaceID, campaignID domain.ID, rows contacts.ImportRows, now time.Time,
		lock func(context.Context) error) (n contacts.ImportCounts, added int, err error)
}

// ImportSlots bounds the CSV uploads the process writes at once (contacts.Service): a
// recipient upload takes one of the contact imports' slots.
type ImportSlots interface {
	ReserveImport() (release func(), err error)
}

// Reach reads, in the current transaction, what a number's campaigns share: its
// throughput between the running ones, its messaging limit with every template send.
type Reach interface {
	// RunningOn counts the workspace's running campaigns that send from the number.
	RunningOn(ctx context.Context, workspaceID domain.ID, phoneNumberID string) (int, error)
	// Reached counts the distinct contacts the number sent a template to (not failed) since
	// then: the business-initiated unique contacts Meta's messaging limit counts. It locks
	// the number's count until the transaction ends, so concurrent batches of its campaigns
	// take from what is left in turn.
	Reached(ctx context.Context, workspaceID domain.ID, phoneNumberID string, since time.Time) (int, error)
}

// Repos is what a transaction offers these use cases.
type Repos struct {
	Campaigns Writer
	Contacts  Importer
	Batches   Batches
	Progress  Progress
	Outbox    Outbox
	Jobs      Jobs
	Events    events.Log
	Reach     Reach
	// Wallet and Costs may be nil (a test without billing).
	Wallet Wallet
	Costs  Costs
}

// Costs prices a campaign in the transaction that starts it (billing), so the audience it
// just took is counted.
type Costs interface {
	// CampaignCost is the price of one message of the template category to each recipient
	// still to send, in the wallet's currency, and the wallet.
	CampaignCost(ctx context.Context, ws, campaignID domain.ID, templateCategory string, at time.Time) (domain.Money, domain.Wallet, error)
}

// TxRunner runs fn in one transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, r Repos) error) error
}

// Numbers lists a workspace's WhatsApp numbers.
type Numbers interface {
	List(ctx context.Context, workspaceID domain.ID) ([]domain.PhoneNumber, error)
}

// Templates reads the template catalogue (templates.Catalogue).
type Templates interface {
	// Template is the template of that name and language on the WABA; KindNotFound when
	// there is none.
	Template(ctx context.Context, workspaceID domain.ID, wabaID, name, language string) (domain.Template, error)
}

// Workspaces reads a workspace's plan (its per-minute send quota).
type Workspaces interface {
	Workspace(ctx context.Context, id domain.ID) (domain.Workspace, error)
}

// Quota is the plan's per-minute send quota the send API counts against too
// (messaging.QuotaKey): campaigns take from the same counter.
type Quota interface {
	// TakeUpTo counts up to n sends against key in the current one-minute window, leaving
	// keep of the window's perMinute to other senders, and returns how many it counted
	// (0 when the window is spent) and when the window ends.
	TakeUpTo(ctx context.Context, key string, perMinute, keep, n int) (granted int, reset time.Time, err error)
}
