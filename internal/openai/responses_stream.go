package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ResponseEvent is one server-sent event of a streamed response. One flat
// shape covers the kinds; Type tells them apart.
type ResponseEvent struct {
	Type           string          `json:"type"`
	SequenceNumber int             `json:"sequence_number"`
	Response       *Response       `json:"response,omitempty"`
	OutputIndex    *int            `json:"output_index,omitempty"`
	ContentIndex   *int            `json:"content_index,omitempty"`
	SummaryIndex   *int            `json:"summary_index,omitempty"`
	ItemID         string          `json:"item_id,omitempty"`
	Item           *Item           `json:"item,omitempty"`
	Part           *ItemPart       `json:"part,omitempty"`
	Delta          *string         `json:"delta,omitempty"`
	Text           *string         `json:"text,omitempty"`
	Arguments      *string         `json:"arguments,omitempty"`
	Name           string          `json:"name,omitempty"`
	Logprobs       json.RawMessage `json:"logprobs,omitempty"`
}

// ResponseStream turns a chat completion's chunks into the Responses event
// sequence, numbering every event. Item ids derive from Base, as in
// AssistantItems, so the streamed items are those of the final response.
//
// A whole response replays as Start then Finish with no chunks between: the
// sequence depends only on the final response, which is what lets a caller
// resume a background stream after any sequence number.
type ResponseStream struct {
	Base string
	// Seq is the sequence number of the next event.
	Seq int
	// Skip leaves out the events numbered below it: a resumed stream
	// starts after the last event its caller saw.
	Skip int

	items []*streamItem
	calls map[int]int // chat tool call index → output index
	buf   []byte
	err   error
}

type streamItem struct {
	item Item
	text []byte // output text, or a call's arguments
	open bool
}

func (s *ResponseStream) emit(ev ResponseEvent) {
	if s.err != nil {
		return
	}
	ev.SequenceNumber = s.Seq
	s.Seq++
	if ev.SequenceNumber < s.Skip {
		return
	}
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, ev.Type...)
	s.buf = append(s.buf, '\n')
	s.buf, s.err = AppendEvent(s.buf, ev)
}

func (s *ResponseStream) take() ([]byte, error) {
	out, err := s.buf, s.err
	s.buf, s.err = nil, nil
	return out, err
}

// Start is the opening of a stream: response.created and then
// response.in_progress, or response.queued for a response still queued.
func (s *ResponseStream) Start(resp *Response) ([]byte, error) {
	created := *resp
	s.emit(ResponseEvent{Type: "response.created", Response: &created})
	if resp.Status == "queued" {
		s.emit(ResponseEvent{Type: "response.queued", Response: &created})
	} else {
		s.InProgress(resp)
	}
	return s.take()
}

// InProgress announces that a queued response has started.
func (s *ResponseStream) InProgress(resp *Response) {
	running := *resp
	running.Status = "in_progress"
	s.emit(ResponseEvent{Type: "response.in_progress", Response: &running})
}

// Chunks converts one stored stream chunk: server-sent chat.completion.chunk
// events, as the worker writes them.
func (s *ResponseStream) Chunks(data []byte) ([]byte, error) {
	for _, ev := range bytes.Split(data, []byte("\n\n")) {
		payload, ok := bytes.CutPrefix(bytes.TrimSpace(ev), []byte("data: "))
		if !ok {
			continue
		}
		var c ChatCompletionChunk
		if err := json.Unmarshal(payload, &c); err != nil {
			return nil, fmt.Errorf("read a stored chunk: %w", err)
		}
		for _, ch := range c.Choices {
			s.delta(ch.Delta)
		}
	}
	return s.take()
}

func (s *ResponseStream) delta(d Delta) {
	if d.ReasoningContent != nil && *d.ReasoningContent != "" {
		if it, idx := s.current("reasoning"); it != nil {
			it.text = append(it.text, *d.ReasoningContent...)
			s.emit(ResponseEvent{Type: "response.reasoning_summary_text.delta", ItemID: it.item.ID, OutputIndex: intp(idx), SummaryIndex: intp(0), Delta: d.ReasoningContent})
		}
	}
	if d.Content != nil && *d.Content != "" {
		if it, idx := s.current("message"); it != nil {
			it.text = append(it.text, *d.Content...)
			s.emit(ResponseEvent{Type: "response.output_text.delta", ItemID: it.item.ID, OutputIndex: intp(idx), ContentIndex: intp(0), Delta: d.Content, Logprobs: json.RawMessage("[]")})
		}
	}
	for _, tc := range d.ToolCalls {
		if s.calls == nil {
			s.calls = map[int]int{}
		}
		idx, known := s.calls[tc.Index]
		if !known {
			s.closeAll()
			empty := ""
			s.open(Item{Type: "function_call", ID: CallItemID(s.Base, tc.Index), Status: "in_progress", CallID: tc.ID, Name: tc.Function.Name, Arguments: &empty})
			idx = len(s.items) - 1
			s.calls[tc.Index] = idx
		}
		it := s.items[idx]
		if tc.Function.Arguments != "" && it.open {
			it.text = append(it.text, tc.Function.Arguments...)
			args := tc.Function.Arguments
			s.emit(ResponseEvent{Type: "response.function_call_arguments.delta", ItemID: it.item.ID, OutputIndex: intp(idx), Delta: &args})
		}
	}
}

// current is the open item that output of kind (reasoning or message)
// extends: the last item if it is one, else a new one where the final
// response will have it (reasoning first, the message after it). Output the
// live stream cannot place in that order (text after a call has begun) gets
// nil: the caller reads it in the final response.
func (s *ResponseStream) current(kind string) (*streamItem, int) {
	if n := len(s.items); n > 0 && s.items[n-1].item.Type == kind && s.items[n-1].open {
		return s.items[n-1], n - 1
	}
	fits := len(s.items) == 0 || kind == "message" && len(s.items) == 1 && s.items[0].item.Type == "reasoning"
	if !fits {
		return nil, -1
	}
	s.closeAll()
	if kind == "reasoning" {
		s.open(Item{Type: "reasoning", ID: "rs_" + s.Base, Summary: json.RawMessage("[]")})
	} else {
		s.open(Item{Type: "message", ID: MessageItemID(s.Base), Status: "in_progress", Role: "assistant", Content: &ItemContent{Parts: []ItemPart{}}})
	}
	return s.items[len(s.items)-1], len(s.items) - 1
}

// open starts an output item (and a message's text part, a reasoning
// item's summary part).
func (s *ResponseStream) open(item Item) {
	idx := len(s.items)
	s.items = append(s.items, &streamItem{item: item, open: true})
	added := item
	s.emit(ResponseEvent{Type: "response.output_item.added", OutputIndex: intp(idx), Item: &added})
	switch item.Type {
	case "message":
		part := outputText("")
		s.emit(ResponseEvent{Type: "response.content_part.added", ItemID: item.ID, OutputIndex: intp(idx), ContentIndex: intp(0), Part: &part})
	case "reasoning":
		empty := ""
		s.emit(ResponseEvent{Type: "response.reasoning_summary_part.added", ItemID: item.ID, OutputIndex: intp(idx), SummaryIndex: intp(0), Part: &ItemPart{Type: "summary_text", Text: &empty}})
	}
}

// close ends the open item idx as final says it ended.
func (s *ResponseStream) close(idx int, final Item) {
	it := s.items[idx]
	if !it.open {
		return
	}
	it.open = false
	switch final.Type {
	case "message":
		part := final.Content.Parts[0]
		if part.Type == "output_text" {
			s.emit(ResponseEvent{Type: "response.output_text.done", ItemID: final.ID, OutputIndex: intp(idx), ContentIndex: intp(0), Text: part.Text, Logprobs: json.RawMessage("[]")})
		}
		s.emit(ResponseEvent{Type: "response.content_part.done", ItemID: final.ID, OutputIndex: intp(idx), ContentIndex: intp(0), Part: &part})
	case "reasoning":
		text := final.reasoningText()
		s.emit(ResponseEvent{Type: "response.reasoning_summary_text.done", ItemID: final.ID, OutputIndex: intp(idx), SummaryIndex: intp(0), Text: &text})
		s.emit(ResponseEvent{Type: "response.reasoning_summary_part.done", ItemID: final.ID, OutputIndex: intp(idx), SummaryIndex: intp(0), Part: &ItemPart{Type: "summary_text", Text: &text}})
	case "function_call":
		s.emit(ResponseEvent{Type: "response.function_call_arguments.done", ItemID: final.ID, OutputIndex: intp(idx), Arguments: final.Arguments, Name: final.Name})
	}
	s.emit(ResponseEvent{Type: "response.output_item.done", OutputIndex: intp(idx), Item: &final})
}

// closeAll ends the items still open with what was streamed of them.
func (s *ResponseStream) closeAll() {
	for i, it := range s.items {
		if !it.open {
			continue
		}
		var final Item
		text := string(it.text)
		switch it.item.Type {
		case "message":
			final = it.item
			final.Status = "completed"
			final.Content = &ItemContent{Parts: []ItemPart{outputText(text)}}
		case "reasoning":
			final = ReasoningItem(s.Base, text)
		default:
			final = it.item
			final.Status = "completed"
			final.Arguments = &text
		}
		s.close(i, final)
	}
}

// Finish ends the stream with the final response: items not streamed yet
// (all of them, for a replay) are added whole, open ones are closed as the
// final response has them, and the terminal event carries the response:
// response.completed, .incomplete, .failed (or .cancelled).
func (s *ResponseStream) Finish(final *Response) ([]byte, error) {
	for i, item := range final.Output {
		if i < len(s.items) {
			if s.items[i].item.Type == item.Type {
				s.close(i, item)
			}
			continue
		}
		start := item
		start.Status = "in_progress"
		switch item.Type {
		case "message":
			start.Content = &ItemContent{Parts: []ItemPart{}}
		case "reasoning":
			start.Status, start.Summary = "", json.RawMessage("[]")
		case "function_call":
			empty := ""
			start.Arguments = &empty
		}
		s.open(start)
		switch {
		case item.Type == "message" && item.Content.Parts[0].Text != nil && *item.Content.Parts[0].Text != "":
			s.emit(ResponseEvent{Type: "response.output_text.delta", ItemID: item.ID, OutputIndex: intp(i), ContentIndex: intp(0), Delta: item.Content.Parts[0].Text, Logprobs: json.RawMessage("[]")})
		case item.Type == "reasoning":
			text := item.reasoningText()
			s.emit(ResponseEvent{Type: "response.reasoning_summary_text.delta", ItemID: item.ID, OutputIndex: intp(i), SummaryIndex: intp(0), Delta: &text})
		case item.Type == "function_call" && *item.Arguments != "":
			s.emit(ResponseEvent{Type: "response.function_call_arguments.delta", ItemID: item.ID, OutputIndex: intp(i), Delta: item.Arguments})
		}
		s.close(i, item)
	}
	s.closeAll()
	kind := "response." + final.Status
	if final.Status == "cancelled" {
		kind = "response.failed" // OpenAI's stream has no cancelled event
	}
	s.emit(ResponseEvent{Type: kind, Response: final})
	return s.take()
}

func intp(i int) *int { return &i }
