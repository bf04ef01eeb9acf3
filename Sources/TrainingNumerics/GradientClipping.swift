/// Global-norm gradient clipping with torch `nn.utils.clip_grad_norm_` semantics (norm type 2),
/// as sd-scripts applies it for `--max_grad_norm` through `accelerator.clip_grad_norm_`.
///
/// `total = ‖(‖g_1‖, …, ‖g_n‖)‖₂` over all gradients; every gradient is multiplied by
/// `min(1, max_norm / (total + 1e-6))` (Float32, as torch's `clip_coef_clamped`). Like torch
/// (`error_if_nonfinite=False`), a non-finite norm is not an error: the gradients become NaN.
public enum GradientClipping {
    /// The global L2 norm of all gradients, accumulated in Float64 and rounded to Float32.
    public static func totalNorm<C: Collection<Float>>(_ gradients: [C]) -> Float {
        var squares = 0.0
        for gradient in gradients {
            for value in gradient { squares += Double(value) * Double(value) }
        }
        return Float(squares.squareRoot())
    }

    /// torch's clamped clip coefficient for a total norm.
    public static func coefficient(totalNorm: Float, maxNorm: Float) -> Float {
        let coefficient = maxNorm / (totalNorm + Float(1e-6))
        return coefficient > 1 ? 1 : coefficient  // NaN stays NaN, as torch.clamp(max=1)
    }

    /// Scales the gradients in place so their global norm is at most `maxNorm`.
    ///
    /// - Returns: the total norm before clipping (what `clip_grad_norm_` returns).
    @discardableResult
    public static func clip(
        _ gradients: [UnsafeMutableBufferPointer<Float>], maxNorm: Float
    )
        -> Float
    {
        let norm = totalNorm(gradients)
        let scale = coefficient(totalNorm: norm, maxNorm: maxNorm)
        // torch multiplies even by 1; that changes nothing, so the pass is skipped.
        if scale != 1 {
            for gradient in gradients {
                for i in gradient.indices { gradient[i] = gradient[i] * scale }
            }
        }
        return norm
    }

    /// `clip` for gradients held in arrays.
    @discardableResult
    public static func clip(_ gradients: inout [[Float]], maxNorm: Float) -> Float {
        let norm = totalNorm(gradients)
        let scale = coefficient(totalNorm: norm, maxNorm: maxNorm)
        if scale != 1 {
            for j in gradients.indices {
                for i in gradients[j].indices { gradients[j][i] = gradients[j][i] * scale }
            }
        }
        return norm
    }
}
