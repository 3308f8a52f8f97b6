//! Agent preparation and exit mapping, table-driven.
