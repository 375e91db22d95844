//! Placeholder: written by the lead (builder).
