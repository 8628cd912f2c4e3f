//! sinkhole
