package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/identity"
	"github.com/wabaplatform/waba/application/workspaces"
	"github.com/wabaplatform/waba/domain"
)

type userDTO struct {
	ID        domain.ID `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func toUser(u domain.User) userDTO {
	return userDTO{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt.UTC()}
}

type workspaceDTO struct {
	ID        domain.ID `json:"id"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toWorkspace(w domain.Workspace) workspaceDTO {
	return workspaceDTO{ID: w.ID, Name: w.Name, Plan: string(w.Plan), CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

type memberDTO struct {
	UserID    domain.ID `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func toMember(m domain.Member) memberDTO {
	return memberDTO{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), CreatedAt: m.CreatedAt.UTC()}
}

type apiKeyDTO struct {
	ID        domain.ID `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Key       string    `json:"key,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// toAPIKey renders a key without its secret (shown only by createAPIKey).
func toAPIKey(k domain.APIKey) apiKeyDTO {
	return apiKeyDTO{ID: k.ID, Name: k.Name, Role: string(k.Role), CreatedAt: k.CreatedAt.UTC()}
}

func (a *API) signup(c echo.Context) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	u, err := a.Identity.Signup(c.Request().Context(), identity.SignupInput{Email: req.Email, Password: req.Password, Name: req.Name})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": toUser(u)})
}

func (a *API) login(c echo.Context) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	res, err := a.Identity.Login(c.Request().Context(), req.Email, req.Password, requestMeta(c))
	if t := res.Throttle; t.Limit > 0 { // login is rate limited: API.md's headers, on failures too
		setRateLimitHeaders(c, t.Limit, max(t.Remaining, 0), t.Reset)
	}
	if err != nil {
		return err
	}
	return tokensJSON(c, res.IssuedTokens)
}

// tokensJSON is the answer of login and refresh.
func tokensJSON(c echo.Context, t identity.IssuedTokens) error {
	return c.JSON(http.StatusOK, map[string]any{
		"access_token": t.AccessToken, "refresh_token": t.RefreshToken, "token_type": "Bearer",
		"expires_in": int(t.ExpiresIn.Seconds()),
	})
}

func (a *API) refresh(c echo.Context) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	t, err := a.Identity.Refresh(c.Request().Context(), req.RefreshToken, requestMeta(c))
	if err != nil {
		return err
	}
	return tokensJSON(c, t)
}

func (a *API) logout(c echo.Context) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := a.Identity.Logout(c.Request().Context(), req.RefreshToken); err != nil {
		return err
	}
	return noContent(c)
}

func (a *API) changePassword(c echo.Context) error {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := a.Identity.ChangePassword(c.Request().Context(), principal(c), req.CurrentPassword, req.NewPassword, requestMeta(c)); err != nil {
		return err
	}
	return noContent(c)
}

func (a *API) requestPasswordReset(c echo.Context) error {
	var req struct {
		Email string `json:"email"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	t, err := a.Identity.RequestPasswordReset(c.Request().Context(), req.Email, requestMeta(c))
	if t.Limit > 0 {
		setRateLimitHeaders(c, t.Limit, max(t.Remaining, 0), t.Reset)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{
		"status": "if an account has this email, a reset link is on its way"})
}

func (a *API) confirmPasswordReset(c echo.Context) error {
	var req struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := a.Identity.ConfirmPasswordReset(c.Request().Context(), req.Token, req.NewPassword, requestMeta(c)); err != nil {
		return err
	}
	return noContent(c)
}

func (a *API) me(c echo.Context) error {
	u, ms, err := a.Identity.Me(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	type membershipDTO struct {
		WorkspaceID   domain.ID `json:"workspace_id"`
		WorkspaceName string    `json:"workspace_name"`
		Role          string    `json:"role"`
	}
	out := make([]membershipDTO, len(ms))
	for i, m := range ms {
		out[i] = membershipDTO{m.WorkspaceID, m.WorkspaceName, string(m.Role)}
	}
	return c.JSON(http.StatusOK, map[string]any{"user": toUser(u), "memberships": out})
}

func (a *API) createWorkspace(c echo.Context) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	w, err := a.Workspaces.Create(c.Request().Context(), principal(c), req.Name, requestMeta(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toWorkspace(w))
}

func (a *API) getWorkspace(c echo.Context) error {
	w, err := a.Workspaces.Get(c.Request().Context(), caller(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWorkspace(w))
}

func (a *API) updateWorkspace(c echo.Context) error {
	var req struct {
		Name *string         `json:"name"`
		Plan json.RawMessage `json:"plan"` // present at all (even null): refused
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	in := workspaces.UpdateInput{Name: req.Name}
	if req.Plan != nil {
		plan := string(req.Plan)
		in.Plan = &plan
	}
	w, err := a.Workspaces.Update(c.Request().Context(), caller(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toWorkspace(w))
}

func (a *API) listMembers(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := a.Workspaces.Members(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toMember))
}

func (a *API) addMember(c echo.Context) error {
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	m, err := a.Workspaces.AddMember(c.Request().Context(), caller(c), req.Email, req.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toMember(m))
}

func (a *API) changeMemberRole(c echo.Context) error {
	id, err := pathID(c, "user_id", "member")
	if err != nil {
		return err
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	m, err := a.Workspaces.ChangeRole(c.Request().Context(), caller(c), id, req.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toMember(m))
}

func (a *API) removeMember(c echo.Context) error {
	id, err := pathID(c, "user_id", "member")
	if err != nil {
		return err
	}
	if err := a.Workspaces.RemoveMember(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}

func (a *API) createAPIKey(c echo.Context) error {
	var req struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	k, err := a.Workspaces.CreateAPIKey(c.Request().Context(), caller(c), req.Name, req.Role)
	if err != nil {
		return err
	}
	out := toAPIKey(k.APIKey)
	out.Key = k.Secret
	return c.JSON(http.StatusCreated, out)
}

func (a *API) listAPIKeys(c echo.Context) error {
	limit, cursor, err := paging(c)
	if err != nil {
		return err
	}
	page, err := a.Workspaces.APIKeys(c.Request().Context(), caller(c), limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(page, toAPIKey))
}

func (a *API) revokeAPIKey(c echo.Context) error {
	id, err := pathID(c, "id", "api key")
	if err != nil {
		return err
	}
	if err := a.Workspaces.RevokeAPIKey(c.Request().Context(), caller(c), id); err != nil {
		return err
	}
	return noContent(c)
}
