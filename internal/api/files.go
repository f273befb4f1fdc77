package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sluice-broker/sluice/internal/files"
	"github.com/sluice-broker/sluice/internal/openai"
)

func fileObject(f *files.File) openai.FileObject {
	o := openai.FileObject{ID: f.ID, Object: "file", Bytes: f.Bytes, CreatedAt: f.CreatedAt.Unix(),
		Filename: f.Filename, Purpose: f.Purpose, Status: "processed"}
	if f.ExpiresAt != nil {
		v := f.ExpiresAt.Unix()
		o.ExpiresAt = &v
	}
	return o
}

func fileNotFound(id string) *openai.Error {
	return openai.NotFound(fmt.Sprintf("No such File object: %s", id))
}

func (s *Server) maxFileBytes() int64 {
	if s.MaxFileBytes > 0 {
		return s.MaxFileBytes
	}
	return files.MaxBatchBytes
}

// createFile stores an upload as it arrives: the file part streams into the
// store a chunk at a time, so neither memory nor local disk holds the file.
// The purpose may come after the file in the form (the OpenAI SDKs send it
// there), so the upload stays invisible until the whole form has been read
// and checked.
func (s *Server) createFile(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	limit := s.maxFileBytes()
	// The file plus a little room for the other fields and the part headers.
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit+64<<10)
	form, err := r.MultipartReader()
	if err != nil {
		return openai.InvalidRequest("", "Upload the file as multipart/form-data with the fields 'file' and 'purpose': %v.", err)
	}
	var up files.Upload
	defer func() {
		if up != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := up.Abort(actx); err != nil {
				s.Log.WarnContext(actx, "abort upload", "file", up.ID(), "err", err)
			}
		}
	}()
	var purpose string
	var expires openai.ExpiresAfter
	var hasExpiry bool
	for {
		part, err := form.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return formError(err, limit)
		}
		switch name := part.FormName(); name {
		case "file":
			if up != nil {
				return openai.InvalidRequest("file", "Upload one file per request.")
			}
			filename := part.FileName()
			if filename == "" {
				filename = "file"
			}
			if !openai.ValidText(filename) {
				// Refused rather than repaired: the name is the caller's, and
				// a changed one would not match what it lists later.
				return openai.InvalidRequest("file", "The file name contains a NUL character or invalid UTF-8; name the file in UTF-8.").WithCode("invalid_encoding")
			}
			if up, err = s.Files.Begin(ctx, tenant(c), filename); err != nil {
				return err
			}
			n, err := io.Copy(up, io.LimitReader(part, limit+1))
			if err != nil {
				return formError(err, limit)
			}
			if n > limit {
				return tooLarge(limit)
			}
		case "purpose":
			if purpose, err = formValue(part); err != nil {
				return formError(err, limit)
			}
			if e := checkPurpose(purpose); e != nil {
				// Sent before the file: refused before any of it is stored.
				return e
			}
		case "expires_after[anchor]", "expires_after[seconds]":
			v, err := formValue(part)
			if err != nil {
				return formError(err, limit)
			}
			hasExpiry = true
			if name == "expires_after[anchor]" {
				expires.Anchor = v
			} else if expires.Seconds, err = strconv.ParseInt(v, 10, 64); err != nil {
				return openai.InvalidRequest(name, "Invalid '%s': %q is not an integer.", name, v)
			}
		default:
			return openai.InvalidRequest(name, "Unrecognized request argument supplied: %s", name)
		}
	}
	if up == nil {
		return openai.InvalidRequest("file", "Missing required parameter: 'file'.")
	}
	if e := checkPurpose(purpose); e != nil {
		return e
	}
	var expiresAt *time.Time
	if hasExpiry {
		if e := expires.Validate("expires_after"); e != nil {
			return e
		}
		t := time.Now().Add(time.Duration(expires.Seconds) * time.Second)
		expiresAt = &t
	}
	f, err := up.Commit(ctx, purpose, expiresAt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fileObject(f))
}

// checkPurpose admits the one purpose sluice serves.
func checkPurpose(purpose string) *openai.Error {
	switch purpose {
	case "":
		return openai.InvalidRequest("purpose", "Missing required parameter: 'purpose'.")
	case files.PurposeBatch:
		return nil
	}
	return openai.InvalidRequest("purpose", "Invalid purpose %q: sluice stores files for the Batch API only; use 'batch'.", purpose)
}

// formValue reads a small form field.
func formValue(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<10))
	return string(b), err
}

func formError(err error, limit int64) error {
	if openai.IsReadTimeout(err) {
		return openai.BodyTimeout()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(limit)
	}
	return openai.InvalidRequest("", "The multipart form could not be read: %v.", err)
}

func tooLarge(limit int64) *openai.Error {
	return (&openai.Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
		Message: fmt.Sprintf("The file is larger than %d bytes, the limit for a batch input file.", limit)}).WithCode("file_too_large")
}

func (s *Server) listFiles(c echo.Context) error {
	p := files.ListParams{Purpose: c.QueryParam("purpose"), After: c.QueryParam("after")}
	var oerr *openai.Error
	if p.Limit, oerr = limitParam(c, 10000, 10000); oerr != nil {
		return oerr
	}
	switch c.QueryParam("order") {
	case "", "desc":
	case "asc":
		p.Ascending = true
	default:
		return openai.InvalidRequest("order", "Invalid 'order': %q; expected 'asc' or 'desc'.", c.QueryParam("order"))
	}
	list, more, err := s.Files.List(c.Request().Context(), tenant(c), p)
	if err != nil {
		return err
	}
	out := openai.List[openai.FileObject]{Object: "list", Data: make([]openai.FileObject, 0, len(list)), HasMore: &more}
	for _, f := range list {
		out.Data = append(out.Data, fileObject(f))
	}
	if len(list) > 0 {
		out.FirstID, out.LastID = list[0].ID, list[len(list)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// limitParam reads the limit query parameter: def when absent, 1 to max.
func limitParam(c echo.Context, def, max int) (int, *openai.Error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, openai.InvalidRequest("limit", "Invalid 'limit': %q; expected an integer from 1 to %d.", raw, max)
	}
	return n, nil
}

func (s *Server) getFile(c echo.Context) error {
	f, err := s.Files.Get(c.Request().Context(), tenant(c), c.Param("id"))
	if errors.Is(err, files.ErrNotFound) {
		return fileNotFound(c.Param("id"))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, fileObject(f))
}

// fileContent streams a file; memory holds one chunk of it at a time.
func (s *Server) fileContent(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := s.Files.Get(ctx, tenant(c), c.Param("id"))
	if errors.Is(err, files.ErrNotFound) {
		return fileNotFound(c.Param("id"))
	}
	if err != nil {
		return err
	}
	content, err := s.Files.Open(ctx, tenant(c), f.ID)
	if errors.Is(err, files.ErrNotFound) {
		return fileNotFound(f.ID)
	}
	if err != nil {
		return err
	}
	defer content.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEOctetStream)
	h.Set(echo.HeaderContentLength, strconv.FormatInt(f.Bytes, 10))
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), content); err != nil {
		// Too late for an error body: the caller sees a short read.
		s.Log.WarnContext(ctx, "stream file content", "file", f.ID, "err", err)
	}
	return nil
}

func (s *Server) deleteFile(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, err := s.Files.Get(ctx, tenant(c), id); errors.Is(err, files.ErrNotFound) {
		return fileNotFound(id)
	} else if err != nil {
		return err
	}
	// A batch reads its input file twice (to validate it, then to make its
	// jobs); the file must outlive that.
	batchID, err := s.Batches.Reading(ctx, tenant(c), id)
	if err != nil {
		return err
	}
	if batchID != "" {
		return openai.InvalidRequest("file_id", "File %s is the input of batch %s, which is still reading it; delete it once all of the batch's requests are queued.", id, batchID).WithCode("file_in_use")
	}
	if err := s.Files.Delete(ctx, tenant(c), id); errors.Is(err, files.ErrNotFound) {
		return fileNotFound(id)
	} else if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, openai.FileDeleted{ID: id, Object: "file", Deleted: true})
}
