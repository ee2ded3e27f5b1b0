//! waihu report
