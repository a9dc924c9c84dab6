//! JSON ↔ protobuf for one binding: [`request`] builds the request message from the body, the
//! path variables and the query ([`query`]); [`response`] renders the answer.

pub mod query;
pub mod request;
pub mod response;
