;; The sampler's vocabulary-wide loops in WebAssembly SIMD (128-bit: two float64 or eight uint16 lanes).
;; Built into softmax-kernel.wasm by `npm run build:kernels`; softmax-kernel.ts lays out the memory and calls it.
;; Every float64 operation is the same IEEE operation, in the same order, as the specification in softmax.ts
;; (`weightOf`), so results are bit for bit what a scalar loop computes; only independent tokens share a
;; vector. No fused multiply-add (relaxed SIMD would change the rounding).
(module
  (memory (export "memory") 1)

  ;; For tokens [0, count) (count a multiple of 4): the histogram bucket of logits[v] (float32) and the
  ;; in-bucket factor of its weight, so that weight = table[bucket] * fraction:
  ;;   gap = (maxLogit - logit) * inverseTemperature   (tempered nats below the top token)
  ;;   scaled = gap * 64; bucket = trunc(scaled); r = gap - bucket * (1/64)
  ;;   fraction = 1 - r * (1 - r * (1/2 - r * (1/6 - r * 1/24)))
  ;; A token with !(scaled < 2047) (more than 32 nats below, NaN, -Infinity) gets bucket 2047 and fraction 0.
  ;; Four tokens per step, as two float64 pairs written out twice (measured 2x faster than a loop over pairs).
  ;; Bucket indices are i32 lanes 0 and 1 of $lowIndex / $highIndex, clamped to [0, 2047].
  (func (export "weigh")
        (param $logits i32) (param $count i32) (param $maxLogit f64) (param $inverseTemperature f64)
        (param $fractions i32) (param $buckets i32)
    (local $v i32) (local $four v128) (local $max v128) (local $invT v128)
    (local $gap v128) (local $scaled v128) (local $r v128)
    (local $lowOk v128) (local $lowIndex v128) (local $highOk v128) (local $highIndex v128)
    (local.set $max (f64x2.splat (local.get $maxLogit)))
    (local.set $invT (f64x2.splat (local.get $inverseTemperature)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $v) (local.get $count)))
        (local.set $four (v128.load (i32.add (local.get $logits) (i32.shl (local.get $v) (i32.const 2)))))
        ;; $low
        (local.set $gap (f64x2.mul (f64x2.sub (local.get $max) (f64x2.promote_low_f32x4 (local.get $four))) (local.get $invT)))
        (local.set $scaled (f64x2.mul (local.get $gap) (f64x2.splat (f64.const 64))))
        (local.set $lowOk (f64x2.lt (local.get $scaled) (f64x2.splat (f64.const 2047))))
        (local.set $lowIndex
          (i32x4.min_s
            (i32x4.max_s (i32x4.trunc_sat_f64x2_s_zero (local.get $scaled)) (v128.const i32x4 0 0 0 0))
            (v128.const i32x4 2047 2047 2047 2047)))
        (local.set $r
          (f64x2.sub (local.get $gap)
            (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $lowIndex)) (f64x2.splat (f64.const 0.015625)))))
        (v128.store offset=0 (i32.add (local.get $fractions) (i32.shl (local.get $v) (i32.const 3)))
          (v128.and (local.get $lowOk)
            (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 0.5)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 0.16666666666666666))
                       (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0.041666666666666664))))))))))))
        ;; $high
        (local.set $gap (f64x2.mul (f64x2.sub (local.get $max) (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $four) (local.get $four)))) (local.get $invT)))
        (local.set $scaled (f64x2.mul (local.get $gap) (f64x2.splat (f64.const 64))))
        (local.set $highOk (f64x2.lt (local.get $scaled) (f64x2.splat (f64.const 2047))))
        (local.set $highIndex
          (i32x4.min_s
            (i32x4.max_s (i32x4.trunc_sat_f64x2_s_zero (local.get $scaled)) (v128.const i32x4 0 0 0 0))
            (v128.const i32x4 2047 2047 2047 2047)))
        (local.set $r
          (f64x2.sub (local.get $gap)
            (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $highIndex)) (f64x2.splat (f64.const 0.015625)))))
        (v128.store offset=16 (i32.add (local.get $fractions) (i32.shl (local.get $v) (i32.const 3)))
          (v128.and (local.get $highOk)
            (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 0.5)) (f64x2.mul (local.get $r)
            (f64x2.sub (f64x2.splat (f64.const 0.16666666666666666))
                       (f64x2.mul (local.get $r) (f64x2.splat (f64.const 0.041666666666666664))))))))))))
        ;; the four buckets as uint16, 2047 where the token has no weight
        (v128.store64_lane 0 (i32.add (local.get $buckets) (i32.shl (local.get $v) (i32.const 1)))
          (i16x8.narrow_i32x4_u
            (v128.bitselect
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lowIndex) (local.get $highIndex))
              (v128.const i32x4 2047 2047 2047 2047)
              (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $lowOk) (local.get $highOk)))
            (local.get $four)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (br $next))))

  ;; mass[bucket[v]] += table[bucket[v]] * fraction[v] for v in [0, count), in token order (scalar: buckets
  ;; collide); returns the sum of all weights in token order. Tokens without weight add exactly 0.
  (func (export "accumulate")
        (param $fractions i32) (param $buckets i32) (param $count i32) (param $table i32) (param $mass i32)
        (result f64)
    (local $v i32) (local $sum f64) (local $weight f64) (local $bucketOffset i32) (local $slot i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $v) (local.get $count)))
        (local.set $bucketOffset
          (i32.shl (i32.load16_u (i32.add (local.get $buckets) (i32.shl (local.get $v) (i32.const 1))))
                   (i32.const 3)))
        (local.set $weight
          (f64.mul (f64.load (i32.add (local.get $table) (local.get $bucketOffset)))
                   (f64.load (i32.add (local.get $fractions) (i32.shl (local.get $v) (i32.const 3))))))
        (local.set $slot (i32.add (local.get $mass) (local.get $bucketOffset)))
        (f64.store (local.get $slot) (f64.add (f64.load (local.get $slot)) (local.get $weight)))
        (local.set $sum (f64.add (local.get $sum) (local.get $weight)))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $next)))
    (local.get $sum))

  ;; Writes the ids v in [0, count) (count a multiple of 8) with buckets[v] == bucket to ids (int32),
  ;; ascending; returns how many. Eight buckets compared per step.
  (func (export "collect")
        (param $buckets i32) (param $count i32) (param $bucket i32) (param $ids i32) (result i32)
    (local $v i32) (local $found i32) (local $target v128) (local $bits i32)
    (local.set $target (i16x8.splat (local.get $bucket)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $v) (local.get $count)))
        (local.set $bits
          (i16x8.bitmask
            (i16x8.eq (v128.load (i32.add (local.get $buckets) (i32.shl (local.get $v) (i32.const 1))))
                      (local.get $target))))
        (block $empty
          (loop $each
            (br_if $empty (i32.eqz (local.get $bits)))
            (i32.store (i32.add (local.get $ids) (i32.shl (local.get $found) (i32.const 2)))
                       (i32.add (local.get $v) (i32.ctz (local.get $bits))))
            (local.set $found (i32.add (local.get $found) (i32.const 1)))
            (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
            (br $each)))
        (local.set $v (i32.add (local.get $v) (i32.const 8)))
        (br $next)))
    (local.get $found))
)
