//! The conv VAE's image layers (ALGORITHMS.md §2): an encoder of three 4×4 convolutions with
//! stride 2 (32 → 64 → 128 channels, ReLU) that flattens into the MLP part of the VAE, and a
//! decoder that mirrors it with transposed convolutions back to `channels × height × width`
//! logits or means. The spatial sizes are derived from the image size: each stride-2 layer
//! halves it (rounding down), and each transposed layer adds the output padding that restores
//! the exact size (28 → 14 → 7 → 3 → 7 → 14 → 28).

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::data::ImageShape;
use crate::error::{Result, VaeError};

/// Channels of the three convolutions.
pub const CONV_CHANNELS: [usize; 3] = [32, 64, 128];
/// Smallest image side the conv VAE takes (three halvings leave 2 pixels).
pub const MIN_SIDE: usize = 16;
/// Largest image side the conv VAE takes.
pub const MAX_SIDE: usize = 256;

/// The side lengths after each convolution: `[s, s/2, s/4, s/8]`, rounded down at every step.
pub fn conv_sides(side: usize) -> [usize; 4] {
    let mut out = [side; 4];
    for i in 1..4 {
        out[i] = out[i - 1] / 2;
    }
    out
}

/// Checks that the conv VAE can take images of this shape.
pub fn check_shape(shape: &ImageShape) -> Result<()> {
    if !matches!(shape.channels, 1 | 3) {
        return Err(VaeError::Usage(format!(
            "the conv VAE takes grayscale (1 channel) or RGB (3 channels) images, not {} channels",
            shape.channels
        )));
    }
    for (name, s) in [("height", shape.height), ("width", shape.width)] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&s) {
            return Err(VaeError::Usage(format!(
                "the conv VAE takes images of {MIN_SIDE} to {MAX_SIDE} pixels a side; these are \
                 {} ({name} {s}): resize them with --image-size, or use --arch mlp",
                shape.name()
            )));
        }
    }
    Ok(())
}

/// Number of features the conv encoder hands to the MLP part: `128 × h/8 × w/8`.
pub fn flat_features(shape: &ImageShape) -> usize {
    CONV_CHANNELS[2] * conv_sides(shape.height)[3] * conv_sides(shape.width)[3]
}

/// The convolutional encoder: image → flat features.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    convs: Vec<Conv2d<B>>,
    channels: usize,
    height: usize,
    width: usize,
}

/// The transposed-convolution decoder: flat features → image.
#[derive(Module, Debug)]
pub struct ConvDecoder<B: Backend> {
    deconvs: Vec<ConvTranspose2d<B>>,
    /// Height of the smallest feature map.
    h0: usize,
    /// Width of the smallest feature map.
    w0: usize,
}

impl<B: Backend> ConvEncoder<B> {
    /// Fresh layers for images of `shape` (checked by [`check_shape`]).
    pub fn new(shape: &ImageShape, device: &B::Device) -> Self {
        let mut convs = Vec::new();
        let mut prev = shape.channels;
        for &c in &CONV_CHANNELS {
            convs.push(
                Conv2dConfig::new([prev, c], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            prev = c;
        }
        Self {
            convs,
            channels: shape.channels,
            height: shape.height,
            width: shape.width,
        }
    }

    /// Flattened images `[batch, channels·height·width]` → features `[batch, 128·h/8·w/8]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let b = x.dims()[0];
        let mut h: Tensor<B, 4> = x.reshape([b, self.channels, self.height, self.width]); // [b, c, H, W]
        for conv in &self.convs {
            h = relu(conv.forward(h)); // [b, c_i, H/2^i, W/2^i]
        }
        h.flatten(1, 3) // [b, 128·h3·w3]
    }
}

impl<B: Backend> ConvDecoder<B> {
    /// Fresh layers producing images of `shape` (checked by [`check_shape`]).
    pub fn new(shape: &ImageShape, device: &B::Device) -> Self {
        let hs = conv_sides(shape.height);
        let ws = conv_sides(shape.width);
        let mut deconvs = Vec::new();
        let outs = [CONV_CHANNELS[1], CONV_CHANNELS[0], shape.channels];
        let mut prev = CONV_CHANNELS[2];
        for (i, &c) in outs.iter().enumerate() {
            // transposed conv, kernel 4, stride 2, padding 1: out = 2·in + padding_out
            let (hi, wi) = (hs[3 - i], ws[3 - i]);
            let (ho, wo) = (hs[2 - i], ws[2 - i]);
            deconvs.push(
                ConvTranspose2dConfig::new([prev, c], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_padding_out([ho - 2 * hi, wo - 2 * wi])
                    .init(device),
            );
            prev = c;
        }
        Self {
            deconvs,
            h0: hs[3],
            w0: ws[3],
        }
    }

    /// Features `[batch, 128·h/8·w/8]` (already activated) → flattened output
    /// `[batch, channels·height·width]` (logits or means: no final activation).
    pub fn forward(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let b = h.dims()[0];
        let mut h: Tensor<B, 4> = h.reshape([b, CONV_CHANNELS[2], self.h0, self.w0]); // [b, 128, h3, w3]
        let last = self.deconvs.len() - 1;
        for (i, d) in self.deconvs.iter().enumerate() {
            h = d.forward(h); // [b, c_i, 2·h_i (+1), 2·w_i (+1)]
            if i < last {
                h = relu(h);
            }
        }
        h.flatten(1, 3) // [b, channels·H·W]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_halve_and_round_down() {
        assert_eq!(conv_sides(28), [28, 14, 7, 3]);
        assert_eq!(conv_sides(32), [32, 16, 8, 4]);
        assert_eq!(conv_sides(64), [64, 32, 16, 8]);
        assert_eq!(flat_features(&ImageShape::new(1, 28, 28)), 128 * 9);
    }

    #[test]
    fn unusable_shapes_are_named() {
        let e = check_shape(&ImageShape::new(1, 8, 8))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the conv VAE takes images of 16 to 256 pixels a side; these are 1x8x8 (height 8): \
             resize them with --image-size, or use --arch mlp"
        );
        let e = check_shape(&ImageShape::new(2, 28, 28))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not 2 channels"), "{e}");
        assert!(check_shape(&ImageShape::new(3, 64, 32)).is_ok());
    }
}
