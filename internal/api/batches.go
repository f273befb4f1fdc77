package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/batch"
	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/openai"
)

func batchNotFound(id string) *openai.Error {
	return openai.NotFound(fmt.Sprintf("No batch found with id '%s'.", id))
}

func (s *Server) batchWindow() time.Duration {
	if s.BatchWindow > 0 {
		return s.BatchWindow
	}
	return batch.DefaultWindow
}

// createBatch records the batch and answers at once with status validating;
// the batch runner reads and checks the input file in the background.
func (s *Server) createBatch(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	req, oerr := openai.DecodeCreateBatchRequest(http.MaxBytesReader(c.Response(), r.Body, 1<<20))
	if oerr != nil {
		return oerr
	}
	if req.Endpoint != batch.Endpoint {
		return openai.InvalidRequest("endpoint", "Invalid 'endpoint': %q; sluice runs batches of %s only.", req.Endpoint, batch.Endpoint)
	}
	if req.CompletionWindow != batch.CompletionWindow {
		return openai.InvalidRequest("completion_window", "Invalid 'completion_window': %q; the only supported window is '%s'.", req.CompletionWindow, batch.CompletionWindow)
	}
	// A batch calls back once, when it ends, under the same rules as a job.
	keyID, callbackURL, oerr := s.callback(c)
	if oerr != nil {
		return oerr
	}
	f, err := s.Files.Get(ctx, tenant(c), req.InputFileID)
	if errors.Is(err, files.ErrNotFound) {
		e := fileNotFound(req.InputFileID)
		param := "input_file_id"
		e.Param = &param
		return e
	}
	if err != nil {
		return err
	}
	if f.Purpose != files.PurposeBatch {
		return openai.InvalidRequest("input_file_id", "File %s has purpose '%s'; a batch's input file must be uploaded with purpose 'batch'.", f.ID, f.Purpose)
	}
	b := &batch.Batch{ID: batch.NewID(), Tenant: tenant(c), Endpoint: req.Endpoint, CompletionWindow: req.CompletionWindow,
		InputFileID: f.ID, Metadata: req.Metadata, APIKeyID: keyID, CallbackURL: callbackURL}
	if req.OutputExpiresAfter != nil {
		b.OutputExpiresAfter = time.Duration(req.OutputExpiresAfter.Seconds) * time.Second
	}
	if err := s.Batches.Create(ctx, b, s.batchWindow()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b.Object())
}

func (s *Server) getBatch(c echo.Context) error {
	b, err := s.Batches.Get(c.Request().Context(), tenant(c), c.Param("id"))
	if errors.Is(err, batch.ErrNotFound) {
		return batchNotFound(c.Param("id"))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b.Object())
}

func (s *Server) listBatches(c echo.Context) error {
	limit, oerr := limitParam(c, 20, 100)
	if oerr != nil {
		return oerr
	}
	list, more, err := s.Batches.List(c.Request().Context(), tenant(c), c.QueryParam("after"), limit)
	if err != nil {
		return err
	}
	out := openai.List[openai.Batch]{Object: "list", Data: make([]openai.Batch, 0, len(list)), HasMore: &more}
	for _, b := range list {
		out.Data = append(out.Data, b.Object())
	}
	if len(list) > 0 {
		out.FirstID, out.LastID = list[0].ID, list[len(list)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// cancelBatch stops a batch: its queued requests are cancelled at once, the
// running ones finish, and the runner ends it cancelled with what it has.
func (s *Server) cancelBatch(c echo.Context) error {
	b, err := s.Batches.Cancel(c.Request().Context(), tenant(c), c.Param("id"))
	switch {
	case errors.Is(err, batch.ErrNotFound):
		return batchNotFound(c.Param("id"))
	case errors.Is(err, batch.ErrNotCancellable):
		return openai.InvalidRequest("", "Batch %s is %s; only a validating or in-progress batch can be cancelled.", b.ID, b.Status).WithCode("batch_not_cancellable")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, b.Object())
}
