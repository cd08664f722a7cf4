// Package webhook is the webhook sink: it delivers alerts to an HTTP
// endpoint as signed JSON, one alert per request or batched, with retries
// and exponential backoff, a bounded queue whose drops are counted, and
// ready body templates for Slack, Discord and Microsoft Teams.
//
// Delivery runs in a goroutine of its own, so an unreachable or slow
// receiver never holds up the pipeline: alerts wait in the queue, and when
// the queue is full the oldest (or newest) are dropped and counted.
// Delivery is at least once: a receiver can recognise a repeated alert by
// its id, which every body carries, and a repeated request by its
// X-Nfpipe-Delivery header.
//
// Receivers check the X-Nfpipe-Signature header with Verify.
package webhook
