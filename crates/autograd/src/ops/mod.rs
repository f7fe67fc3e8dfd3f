//! Op families, one file each: shape rule, evaluation and gradient rule side by side.

pub mod binary;
pub mod compare;
pub mod conv;
pub mod index;
pub mod matmul;
pub mod movement;
pub mod pool;
pub mod reduce;
pub mod replica;
pub mod softmax;
pub mod unary;
