//! Placeholder: written by the lead (context).
