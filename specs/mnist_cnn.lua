-- LeNet-style CNN for the MNIST digits (make demo-cnn): two 5x5 convolutions with ReLU and
-- 2x2 max pooling, then three linear layers, as PyTorch's LeNet-5 recipe.
return network "mnist_cnn" {
  input  = {1, 28, 28},
  layers = {
    conv2d(6, {kernel = 5, padding = 2}), relu(),   -- 6x28x28
    maxpool2d{kernel = 2, stride = 2},              -- 6x14x14
    conv2d(16, {kernel = 5}), relu(),               -- 16x10x10
    maxpool2d{kernel = 2, stride = 2},              -- 16x5x5
    flatten(),                                      -- 400
    linear(120), relu(),
    linear(84), relu(),
    linear(10),
  },
  loss   = "cross_entropy",
  batch  = 64,
  optimizer = sgd {lr = 0.02, momentum = 0.9},
  -- one cycle (torch's OneCycleLR): lr 0.002 -> 0.05 over the first 30 % of the steps, then
  -- down to 2e-7, momentum 0.95 -> 0.85 -> 0.95; the trainer's --epochs sets its length
  schedule = onecycle{max_lr = 0.05},
}
