//! `berth build`: the Dockerfile front end and the image builder.
//!
//! - [`parser`]: Dockerfile text to stages and instructions ([`parser::parse`]);
//! - [`expand`]: variable substitution in words, with docker's quoting rules;
//! - [`ignore`]: `.dockerignore` patterns;
//! - [`context`] and [`builder`]: the build context and running the build;
//! - [`request`]: what the CLI and the API share on the way into a build.

pub mod builder;
pub mod context;
pub mod expand;
pub mod ignore;
pub mod parser;
pub mod request;

pub use parser::{parse, Dockerfile, Instruction, Kind, ParseError, Stage};
