package workspacestest

import (
	"context"
	"maps"
	"time"

	"github.com/wabaplatform/waba/domain"
)

// LockWorkspace reads the workspace; transactions already run one at a time here.
func (t *memoryStore) LockWorkspace(ctx context.Context, id domain.ID) (domain.Workspace, error) {
	return t.Workspace(ctx, id)
}

// MarkWorkspaceDeleted marks the workspace and removes its memberships and API keys.
func (t *memoryStore) MarkWorkspaceDeleted(_ context.Context, id domain.ID, at time.Time) error {
	return t.with(func(s *State) error {
		s.Deleted[id] = at
		maps.DeleteFunc(s.Members, func(k MemberKey, _ domain.Member) bool { return k.WS == id })
		maps.DeleteFunc(s.Keys, func(_ domain.ID, k domain.APIKey) bool { return k.WorkspaceID == id })
		return nil
	})
}

// EnqueueErasure records the job (workspaces.ErasureJobs).
func (t *memoryStore) EnqueueErasure(_ context.Context, id domain.ID) error {
	return t.with(func(s *State) error { s.Erasures = append(s.Erasures, id); return nil })
}
