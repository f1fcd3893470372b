package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

type invitationDTO struct {
	ID        domain.ID `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Status    string    `json:"status"`
	InvitedBy domain.ID `json:"invited_by"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// toInvitation renders a listed invitation, never with its token (shown only by invite).
func toInvitation(i workspaces.ListedInvitation) invitationDTO {
	return invitationDTO{ID: i.ID, Email: i.Email, Role: string(i.Role), Status: i.Status, InvitedBy: i.InvitedBy,
		CreatedAt: i.CreatedAt.UTC(), ExpiresAt: i.ExpiresAt.UTC()}
}

func (a *API) invite(c echo.Context) error {
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	inv, err := a.Workspaces.Invite(c.Request().Context(), caller(c), req.Email, req.Role)
	if err != nil {
		return err
	}
	out := toInvitation(workspaces.ListedInvitation{Invitation: inv.Invitation, Status: "pending"})
	out.Token = inv.Token
	return c.JSON(http.StatusCreated, out)
}

func (a *API) listInvitations(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := a.Workspaces.Invitations(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toInvitation))
}

func (a *API) revokeInvitation(c echo.Context) error {
	id, err := pathID(c, "id", "invitation")
	if err != nil {
		return err
	}
	if err := a.Workspaces.RevokeInvitation(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

// acceptInvitation is reached with the invitee's own bearer token; the invitation's token
// is in the path (requestLogger keeps it out of the log).
func (a *API) acceptInvitation(c echo.Context) error {
	m, err := a.Workspaces.Accept(c.Request().Context(), principal(c), c.Param("token"), requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"workspace_id": m.WorkspaceID, "workspace_name": m.WorkspaceName, "role": string(m.Role),
	})
}
