// Package annotate holds the annotator kinds: each reads a pool
// (format.TypePool, or a classification dataset dir of the same layout)
// and writes masks (format.TypeMasks): masks.npy uint8 [N,S,S] of 0/1
// aligned with the pool's items, meta.json
// {"task":"masks","annotator":...,"params":...}, metrics.json
// {"items","foreground" (mean area fraction),"empty"} and preview.png.
//
//   - threshold: foreground = pixels brighter than a fixed level.
//   - otsu: Otsu's threshold per image (the lowest level maximising the
//     between-class variance); a one-intensity image gets an empty mask.
//   - kmeans: 2-means on intensity per image from a seeded k-means++ start
//     (PCG stream (seed, item index)); foreground is the brighter cluster,
//     or with foreground: interior the cluster covering less of the image
//     border (objects rarely touch the border; ties go to the brighter).
//   - onnx-saliency: a U2Net/ISNet-style model: grey → [0,1] → optional
//     black border of pad pixels → bilinear resize to size×size → 3 equal
//     channels → (x−mean)/std → run → the chosen output map → min-max
//     normalised (default) → resized back and cropped → thresholded. The
//     model file's content digest enters the key.
//
// Invariants: masks hold only 0 and 1; item i's mask depends only on item
// i's image and the params (and, for onnx-saliency, the model bytes), so
// equal inputs give byte-identical outputs. Embedded annotators (threshold,
// otsu, kmeans) need no weights; they stand in for the paper's learned
// annotators and say so in their docs.
package annotate
