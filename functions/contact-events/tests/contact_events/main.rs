//! contact-events' integration tests, one binary:
//!
//! * [`rules`]: every stream record shape to its event or to none, and the
//!   delivery and the backfill to an in-memory bus;
//! * [`schemas`]: the real output and the samples against the JSON Schemas;
//! * [`eventbridge`]: `PutEvents` over the wire, to moto's EventBridge;
//! * [`stream`]: end to end from DynamoDB Local's stream to an SQS queue;
//! * [`moto`]: the bus, rule and queue on moto that the last two read;
//! * [`subscriptions`]: agreement items to `Marketplace Subscription *`
//!   events, completed from the feeds (in memory), and a failed read;
//! * [`feeds`]: the data-feed items those tests write, made as
//!   ingest-feeds makes them.

mod eventbridge;
mod feeds;
mod moto;
mod rules;
mod schemas;
mod stream;
mod subscriptions;
