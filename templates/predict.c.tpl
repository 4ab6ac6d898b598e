@-- Included by infer.c.tpl and dispatch.c.tpl (a classifier with --weights): NAME_predict.
void $(name)_predict(int32_t *classes, const float *x, int n) {
  $(name)_work w;
  $(name)_predict_with(classes, &w, &$(name)_weights, x, n);
}
