// Package train holds the train kind: it fits an nn network (mlp or cnn
// for classification, fcn for segmentation) to a dataset dir (read with
// the package format into a learn.Dataset), and writes a format.TypeModel
// dir: model/ (lib/nn's Model.Save), loss.csv (format/curves.go),
// decisions.csv (format/decisions.go), metrics.json, with a val input
// val.csv (format/curves.go), and gallery/ (format/gallery.go; gallery.go
// here picks the items).
//
// Each iteration draws a real batch, augments it (augment.go; off by
// default) and, unless the select mode is none, asks a Proposer for a
// generated part (from the pool input by default).
// The mode decides whether to train on real+generated or on the real batch
// alone — the real data is always used:
//
//	none       real only; the pool is ignored
//	all        always accept (the X-Paste baseline)
//	random     accept with probability rate (seeded)
//	filter     draw only pool items whose score (scores input) is >= tau
//	offline    draw only pool items a score node accepted (accepted.npy)
//	bsgal      g_real = ∇loss(real); cache c ← update(c, g_real); g_gen =
//	           ∇loss(generated part); score = cos(c, g_gen) (or the dot
//	           product); accept iff score >= τ (fixed, dynamic, linear)
//	lookahead  one plain SGD step with and one without the generated part
//	           from the same weights; accept if the real loss on a probe
//	           batch is lower with it; weights restored in between
//
// Cost. bsgal takes two backward passes (real batch, generated part); when
// it accepts, the update on the union is formed from those two gradients
// weighted by their label masses (Combine), since the mean loss of a
// disjoint union is the mass-weighted mean of the parts' losses. lookahead
// takes two backward passes (union, real) and two forward passes (probe).
//
// Segmentation seam. A Proposer returns a Proposal: Gen is the batch whose
// gradient scores the generated part, Train (optional) the batch to train
// on when accepted. The classification proposer offers generated images
// beside the real ones (Train nil: the union, combined without another
// pass). A segmentation paster returns Gen = the pasted scenes with W = 1
// on the pasted pixels and 0 elsewhere (nn's per-pixel weight map, so the
// gradient is that of the pasted instances only) and Train = the pasted
// scenes with all pixels; the real gradient comes from the un-pasted real
// batch, which is what a rejected iteration trains on. Accepting then costs
// one more backward pass, on Train: Train's images are Gen's, whose
// activations the scoring pass left, so nn.Model.ReGrad runs only the loss
// and the backward pass under Train's weights, bit for bit as a fresh
// pass.
//
// Instance paste (paste.go). With a segmentation train set, the pool input
// takes INSTANCES dirs (select nodes, one per generator, each keeping its
// source tag) and the paster is the Proposer. Per iteration it picks one
// source (draw pool; all of them for draw mixed), then for each real scene
// of the batch pastes k ~ U{0..max_paste} instances (X-Paste's 19 by
// default; small scenes want fewer): category uniform among the source's
// categories, then an item uniform within it; the item, cropped to its
// mask's box, is resized so its longer side is round(N(mean, std)) of the
// category's side statistics in the train set's meta.json (size_stats;
// clamped to [min_side, scene side]), flipped left-right with probability
// flip when its category is mirror-safe, and placed uniformly with its box inside the scene. Its mask pixels
// overwrite pixels and labels, so earlier real or pasted instances lose
// what they cover. Gen weighs exactly the pasted pixels 1; Train is the
// same scenes with every pixel; a batch where every k was 0 proposes
// nothing. Modes filter and offline are refused for paste (the select
// node has already filtered). The decision log counts the pasted
// instances' sources and categories.
//
// Augmentation (augment.go). The augment block transforms each real
// training image every time it is drawn, before anything is proposed, so
// the paster copies the augmented scenes and a rejected iteration trains
// on them, as in the reference trainer. Segmentation: scale jitter (resize
// by a factor from [lo, hi], pixels by area averaging or bilinearly,
// labels nearest-neighbour, then crop or zero-pad back to the scene size at
// a uniform offset) and a left-right flip; classification: pad-and-crop
// (a shift of up to pad pixels, zeros coming in) and the flip. The flip of
// a scene, of an image and of a pasted instance happens only when every
// category it shows is mirror-safe (the train set's meta.json
// mirror_safe; format.MirrorSafe). Augmentation draws from its own stream,
// every coin whether or not it ends up changing the image, so turning it
// on moves no other draw of the run.
//
// Validation (val.go). With a val input, every eval_every iterations and
// after the last the model is scored on it: mean loss, accuracy (of images,
// or of pixels) and for segmentation the mask AP (AP, AP50, AP75, APr,
// APc, APf) that the evaluate kind would report for it, computed by the
// same code (metrics.SegmentationEval) with the val block's instances,
// min_pixels and protocol. keep: best makes the output model the evaluated
// weights with the highest val AP (accuracy for classification; the
// earliest among equals); keep: last (the default) the final weights.
// metrics.json names the kept iteration and its val metrics. A model is
// never chosen on any other data.
//
// The real gradient (realgrad.go). In mode bsgal the cache follows, by
// default (select.real_grad: matched), the reference's real gradient: for
// each scene of the batch one real training image, as stored, showing a
// category drawn uniformly from those pasted into it (from its own labels
// when nothing was pasted; classification: per generated item one real
// image of its label), the first real_grad_n (4) of them, from their own
// seeded stream. The iteration then trains on the real batch as always,
// which costs one more pass when the generated part is rejected.
// real_grad: batch keeps the cache on the iteration's real batch. With
// matched images and select.subset, neither gradient of the scoring pass
// is needed beyond the subset, so that pass is nn.Model.SplitGradSubset,
// whose backward pass stops at the subset's earliest layer (the same bits
// as the whole pass restricted to the subset).
//
// Gallery (gallery.go). gallery/ holds up to 48 accepted and 48 rejected
// generated items met in training, for the report's accepted-vs-rejected
// grid: images.npy and masks.npy (uint8 [N, H, W]; a classification item
// whole, a pasted instance as its generated crop with its mask, before
// resize and flip) and gallery.csv (iteration, accepted, score, threshold,
// source, category, pool item; row r is tile r). Items are taken evenly
// over the stream of proposed items of each decision by a deterministic
// stride, no random stream; in modes filter and offline the pool items the
// scores input left out are the rejected ones (iteration 0). Written only
// when there is an item to show from a proposer that can draw its items
// (the pool and the paster; not a Proposer set on Node).
//
// pool_fraction keeps, per pool dir and per category, the first
// ⌈fraction·n⌉ items in file order, so smaller fractions nest in larger
// ones and a single pool serves every point of a data-amount curve.
//
// Invariants:
//   - Every random choice (weights, batch order, augmentation, pool draws,
//     random acceptance, look-ahead probes, matched real images) comes
//     from PCG streams seeded by the seed param, one stream per purpose:
//     equal params and input bytes give byte-identical outputs.
//   - No category that the train set does not mark mirror-safe is ever
//     flipped, in a scene, an image or a pasted instance.
//   - A checkpoint is chosen only on the val input (keep best), never on
//     the train set or a test set.
//   - Pixels are scaled to [0, 1]; segmentation labels are 0 for background
//     and c+1 for category c, as in semantic.npy.
//   - The real-gradient cache is updated with the current real batch before
//     the generated part is scored; the threshold is read before the score
//     is observed (bsgal.Decide).
//   - A look-ahead leaves the weights bit-identical to what they were before
//     it; only the chosen update moves them.
//   - decisions.csv has one row per iteration that was offered a generated
//     part, in iteration order; every gallery.csv row with iteration ≥ 1
//     has the accepted flag, score and threshold of that iteration's row.
//   - Pasting never edits the real batch; a rejected iteration trains on
//     exactly the un-pasted (augmented) scenes.
//   - No output file holds a time: metrics.json and every other output
//     are byte-identical across equal runs. The wall time of a training
//     run is the engine's recorded duration of the node (dagrun show
//     --html, the run's progress lines), never part of the output.
//   - Cancellation is checked between iterations; a cancelled run writes no
//     metrics.json.
package train
