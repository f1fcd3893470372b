package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// deleteWorkspace answers 202: the workspace is gone from the API at once, its data is
// erased by a background job.
func (a *API) deleteWorkspace(c echo.Context) error {
	var req struct {
		Confirm string `json:"confirm"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	cl := caller(c)
	if err := a.Workspaces.Delete(c.Request().Context(), cl, req.Confirm); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"id": cl.WorkspaceID, "status": "deleting"})
}
