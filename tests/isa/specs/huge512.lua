-- test-isa: a huge layer on avx512 (W past HUGE_L2 x its 2 MB L2: 1031 x 1024 floats, 4.2 MB)
-- at a batch of few row tiles (21 rows: 8, 8 and 5). By default x is packed (mc); with
-- --cpu zen5 (gen/cpus.lua: XW_HUGE_PACK_X off, XW_SPREAD on) x stays unpacked, the panels
-- are PANEL_BYTES and the row tiles after the filling one prefetch the next panel; the
-- test-isa variant avx512-zen5 must give the default build's bits. 1031 inputs: the last
-- k-block is short.
return network "huge512" {
  input  = 1031,
  layers = { linear(1024), relu(), linear(10) },
  loss   = "cross_entropy",
  batch  = 21,
  optimizer = sgd { lr = 0.05 },
}
