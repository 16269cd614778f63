"""PyTorch GAN scripts of our own making, run on PyTorch and on tinygan with only their import lines changed.

Each script below is plain PyTorch code, written the way public GAN code is (PyTorch-GAN's idioms:
``Variable``, ``Tensor(n, 1).fill_(1.0)``, ``x.type(Tensor)``, ``BatchNorm2d(c, 0.8)``, ``p.data.clamp_``,
``autograd.grad(create_graph=True)``, ``itertools.chain`` of parameters, ``init.normal_(m.weight.data, ...)``,
DataLoader/TensorDataset, lr_scheduler, clip_grad_norm_). ``to_tinygan`` rewrites its imports by text
substitution (``import torch`` -> ``import tinygan as torch``, ``torch.x`` -> ``tinygan.x``) and nothing else.

What the scripts are given (globals): ``real``/``labels``/``noise`` (NumPy batches, one per step), ``rng`` (a
seeded NumPy generator for any other randomness), ``steps``, ``drop_p`` (their dropout probability) and
``weights``. With ``weights=None`` a script exports its initial state_dicts as NumPy arrays into ``weights``;
otherwise it loads them (``load_state_dict({k: torch.tensor(v)})``), so the tinygan run starts from the torch
run's weights and sees the same noise. Both record ``losses``.

- ``test_same_losses_as_torch`` (skipped without torch): the per-step losses agree to rtol 1e-4 (atol 1e-6) over
  5 steps. float32 arithmetic differs between the frameworks in summation order (BLAS, reductions) by about
  1e-7 relative per op; measured here, the losses differ by 1e-7 to 2.5e-6 relative (the WGAN's, whose critic
  outputs are small differences of clipped weights, the most). 1e-4 leaves a 40x margin for other BLAS builds
  and thread counts and still catches a wrong formula (a wrong gradient or update moves the losses by 1e-3 or
  more within two steps). The trained weights are compared too, more loosely (atol 2e-3): a parameter whose
  gradient is zero in exact arithmetic (a bias just before a BatchNorm) gets rounding noise as its gradient,
  and Adam's first steps divide a gradient by its own magnitude, so such a weight moves by up to a learning
  rate per step in either framework's direction (measured: up to 1.1e-3 after 5 steps at lr 2e-4). Dropout's
  masks come from each framework's own generator, so this test runs with ``drop_p = 0``.
- ``test_runs_on_tinygan_alone`` (always, CI has no torch): the tinygan version on its own initial weights,
  with dropout on: finite losses, and every network's parameters changed.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygan
import tinygan.functional as F

RTOL, ATOL = 1e-4, 1e-6            # losses; weights: WEIGHT_ATOL (see above)
WEIGHT_ATOL = 2e-3
BATCH, LATENT, STEPS = 16, 16, 5

# Shared by every script: export the initial weights, or load the given ones (plain PyTorch code).
SYNC = '''
if weights is None:
    weights = {name: {k: np.asarray(v).copy() for k, v in m.state_dict().items()} for name, m in models.items()}
else:
    for name, m in models.items():
        m.load_state_dict({k: torch.tensor(v) for k, v in weights[name].items()})
'''

MLP_GAN = '''
import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable

img_shape = (1, 8, 8)


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(*block(latent_dim, 32, normalize=False), *block(32, 64),
                                   nn.Linear(64, int(np.prod(img_shape))), nn.Tanh())

    def forward(self, z):
        img = self.model(z)
        return img.view(img.size(0), *img_shape)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(nn.Linear(int(np.prod(img_shape)), 64), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(64, 1), nn.Sigmoid())

    def forward(self, img):
        return self.model(img.view(img.size(0), -1))


generator, discriminator = Generator(), Discriminator()
models = {"G": generator, "D": discriminator}
''' + SYNC + '''
adversarial_loss = torch.nn.BCELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
Tensor = torch.FloatTensor

for i in range(steps):
    imgs = torch.from_numpy(real[i][:, :, ::2, ::2].copy())           # 16x16 -> 8x8
    valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
    fake = Variable(Tensor(imgs.size(0), 1).fill_(0.0), requires_grad=False)
    real_imgs = Variable(imgs.type(Tensor))

    optimizer_G.zero_grad()
    z = Variable(Tensor(noise[i]))
    gen_imgs = generator(z)
    g_loss = adversarial_loss(discriminator(gen_imgs), valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    real_loss = adversarial_loss(discriminator(real_imgs), valid)
    fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
    d_loss = (real_loss + fake_loss) / 2
    d_loss.backward()
    optimizer_D.step()
    losses.append((d_loss.item(), g_loss.item()))
'''

DCGAN = '''
import numpy as np
import torch
import torch.nn as nn

img_size, channels = 16, 1


def weights_init_normal(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm2d") != -1:
        torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
        torch.nn.init.constant_(m.bias.data, 0.0)


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.init_size = img_size // 4
        self.l1 = nn.Sequential(nn.Linear(latent_dim, 32 * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(32),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(32, 32, 3, stride=1, padding=1),
            nn.BatchNorm2d(32, 0.8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(32, 16, 3, stride=1, padding=1),
            nn.BatchNorm2d(16, 0.8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(16, channels, 3, stride=1, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        out = self.l1(z)
        out = out.view(out.shape[0], 32, self.init_size, self.init_size)
        return self.conv_blocks(out)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()

        def discriminator_block(in_filters, out_filters, bn=True):
            block = [nn.Conv2d(in_filters, out_filters, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                     nn.Dropout2d(drop_p)]
            if bn:
                block.append(nn.BatchNorm2d(out_filters, 0.8))
            return block

        self.model = nn.Sequential(*discriminator_block(channels, 8, bn=False), *discriminator_block(8, 16),
                                   *discriminator_block(16, 32))
        ds_size = img_size // 2 ** 3
        self.adv_layer = nn.Sequential(nn.Linear(32 * ds_size ** 2, 1), nn.Sigmoid())

    def forward(self, img):
        out = self.model(img)
        out = out.view(out.shape[0], -1)
        return self.adv_layer(out)


generator, discriminator = Generator(), Discriminator()
generator.apply(weights_init_normal)
discriminator.apply(weights_init_normal)
models = {"G": generator, "D": discriminator}
''' + SYNC + '''
adversarial_loss = torch.nn.BCELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))

for i in range(steps):
    imgs = torch.tensor(real[i])
    valid = torch.ones(imgs.shape[0], 1)
    fake = torch.zeros(imgs.shape[0], 1)

    optimizer_G.zero_grad()
    gen_imgs = generator(torch.tensor(noise[i]))
    g_loss = adversarial_loss(discriminator(gen_imgs), valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    real_loss = adversarial_loss(discriminator(imgs), valid)
    fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
    d_loss = (real_loss + fake_loss) / 2
    d_loss.backward()
    optimizer_D.step()
    losses.append((d_loss.item(), g_loss.item()))
'''

# An MLP pair for the WGANs: no sigmoid at the critic's end
WGAN_MODELS = '''
class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(nn.Linear(latent_dim, 64), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(64, 256), nn.Tanh())

    def forward(self, z):
        return self.model(z).view(z.shape[0], 1, 16, 16)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(nn.Linear(256, 64), nn.LeakyReLU(0.2, inplace=True), nn.Linear(64, 1))

    def forward(self, img):
        return self.model(img.view(img.shape[0], -1))


generator, discriminator = Generator(), Discriminator()
models = {"G": generator, "D": discriminator}
'''

WGAN = '''
import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable
''' + WGAN_MODELS + SYNC + '''
n_critic, clip_value = 2, 0.01
optimizer_G = torch.optim.RMSprop(generator.parameters(), lr=0.00005)
optimizer_D = torch.optim.RMSprop(discriminator.parameters(), lr=0.00005)
Tensor = torch.FloatTensor

for i in range(steps):
    real_imgs = Variable(torch.from_numpy(real[i]).type(Tensor))
    optimizer_D.zero_grad()
    z = Variable(Tensor(noise[i]))
    fake_imgs = generator(z).detach()
    loss_D = -torch.mean(discriminator(real_imgs)) + torch.mean(discriminator(fake_imgs))
    loss_D.backward()
    optimizer_D.step()
    for p in discriminator.parameters():
        p.data.clamp_(-clip_value, clip_value)

    if i % n_critic == 0:
        optimizer_G.zero_grad()
        gen_imgs = generator(z)
        loss_G = -torch.mean(discriminator(gen_imgs))
        loss_G.backward()
        optimizer_G.step()
    losses.append((loss_D.item(), loss_G.item()))
'''

WGAN_GP = '''
import numpy as np
import torch
import torch.nn as nn
import torch.autograd as autograd
from torch.autograd import Variable
''' + WGAN_MODELS + SYNC + '''
lambda_gp = 10
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
Tensor = torch.FloatTensor


def compute_gradient_penalty(D, real_samples, fake_samples):
    alpha = Tensor(rng.random_sample((real_samples.size(0), 1, 1, 1)))
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = Variable(Tensor(real_samples.shape[0], 1).fill_(1.0), requires_grad=False)
    gradients = autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                              create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


for i in range(steps):
    real_imgs = Variable(torch.from_numpy(real[i]).type(Tensor))
    optimizer_D.zero_grad()
    z = Variable(Tensor(noise[i]))
    fake_imgs = generator(z)
    real_validity = discriminator(real_imgs)
    fake_validity = discriminator(fake_imgs)
    gradient_penalty = compute_gradient_penalty(discriminator, real_imgs.data, fake_imgs.data)
    d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + lambda_gp * gradient_penalty
    d_loss.backward()
    optimizer_D.step()

    optimizer_G.zero_grad()
    fake_imgs = generator(z)
    g_loss = -torch.mean(discriminator(fake_imgs))
    g_loss.backward()
    optimizer_G.step()
    losses.append((d_loss.item(), g_loss.item(), gradient_penalty.item()))
'''

CGAN = '''
import numpy as np
import torch
import torch.nn as nn

n_classes, img_shape = 10, (1, 16, 16)


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.label_emb = nn.Embedding(n_classes, n_classes)
        self.model = nn.Sequential(nn.Linear(latent_dim + n_classes, 64), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(64, int(np.prod(img_shape))), nn.Tanh())

    def forward(self, noise, labels):
        gen_input = torch.cat((self.label_emb(labels), noise), -1)
        img = self.model(gen_input)
        return img.view(img.size(0), *img_shape)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.label_embedding = nn.Embedding(n_classes, n_classes)
        self.model = nn.Sequential(nn.Linear(n_classes + int(np.prod(img_shape)), 64),
                                   nn.LeakyReLU(0.2, inplace=True), nn.Dropout(drop_p), nn.Linear(64, 1))

    def forward(self, img, labels):
        d_in = torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1)
        return self.model(d_in)


generator, discriminator = Generator(), Discriminator()
models = {"G": generator, "D": discriminator}
''' + SYNC + '''
adversarial_loss = nn.BCEWithLogitsLoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
FloatTensor, LongTensor = torch.FloatTensor, torch.LongTensor

for i in range(steps):
    batch_size = real[i].shape[0]
    real_imgs = FloatTensor(real[i])
    real_labels = LongTensor(labels[i])
    valid = FloatTensor(batch_size, 1).fill_(1.0)
    fake = FloatTensor(batch_size, 1).fill_(0.0)

    optimizer_G.zero_grad()
    z = FloatTensor(noise[i])
    gen_labels = LongTensor(rng.randint(0, n_classes, batch_size))
    gen_imgs = generator(z, gen_labels)
    g_loss = adversarial_loss(discriminator(gen_imgs, gen_labels), valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    d_real_loss = adversarial_loss(discriminator(real_imgs, real_labels), valid)
    d_fake_loss = adversarial_loss(discriminator(gen_imgs.detach(), gen_labels), fake)
    d_loss = (d_real_loss + d_fake_loss) / 2
    d_loss.backward()
    optimizer_D.step()
    losses.append((d_loss.item(), g_loss.item()))
'''

LSGAN = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 16 * 4 * 4)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
            nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.deconv(F.relu(self.fc(z)).view(-1, 16, 4, 4))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for c_in, c_out, bn in [(1, 8, False), (8, 16, True)]:
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1)]
            if bn:
                layers += [nn.BatchNorm2d(c_out)]
            layers += [nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.adv_layer = nn.Linear(16 * 4 * 4, 1)

    def forward(self, img):
        return self.adv_layer(torch.flatten(self.features(img), 1))


generator, discriminator = Generator(), Discriminator()
models = {"G": generator, "D": discriminator}
''' + SYNC + '''
adversarial_loss = nn.MSELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))

for i in range(steps):
    imgs = torch.from_numpy(real[i])
    valid = torch.full((imgs.size(0), 1), 1.0)
    fake = torch.full((imgs.size(0), 1), 0.0)

    optimizer_G.zero_grad(set_to_none=True)
    gen_imgs = generator(torch.from_numpy(noise[i]))
    g_loss = adversarial_loss(discriminator(gen_imgs), valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad(set_to_none=True)
    real_loss = adversarial_loss(discriminator(imgs), valid)
    fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
    d_loss = 0.5 * (real_loss + fake_loss)
    d_loss.backward()
    optimizer_D.step()
    losses.append((d_loss.item(), g_loss.item()))
'''

INFOGAN = '''
import itertools
import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable

n_classes, code_dim = 10, 2
FloatTensor, LongTensor = torch.FloatTensor, torch.LongTensor


def to_categorical(y, num_columns):
    y_cat = np.zeros((y.shape[0], num_columns))
    y_cat[range(y.shape[0]), y] = 1.0
    return Variable(FloatTensor(y_cat))


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(nn.Linear(latent_dim + n_classes + code_dim, 64), nn.BatchNorm1d(64),
                                   nn.LeakyReLU(0.2, inplace=True), nn.Linear(64, 256), nn.Tanh())

    def forward(self, noise, labels, code):
        gen_input = torch.cat((noise, labels, code), -1)
        return self.model(gen_input).view(noise.shape[0], 1, 16, 16)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.trunk = nn.Sequential(nn.Linear(256, 64), nn.LeakyReLU(0.2, inplace=True))
        self.adv_layer = nn.Sequential(nn.Linear(64, 1))
        self.aux_layer = nn.Sequential(nn.Linear(64, n_classes), nn.Softmax(dim=1))
        self.latent_layer = nn.Sequential(nn.Linear(64, code_dim))

    def forward(self, img):
        out = self.trunk(img.view(img.shape[0], -1))
        return self.adv_layer(out), self.aux_layer(out), self.latent_layer(out)


generator, discriminator = Generator(), Discriminator()
models = {"G": generator, "D": discriminator}
''' + SYNC + '''
adversarial_loss = torch.nn.MSELoss()
categorical_loss = torch.nn.CrossEntropyLoss()
continuous_loss = torch.nn.MSELoss()
lambda_cat, lambda_con = 1, 0.1
optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
optimizer_info = torch.optim.Adam(itertools.chain(generator.parameters(), discriminator.parameters()),
                                  lr=0.0002, betas=(0.5, 0.999))

for i in range(steps):
    batch_size = real[i].shape[0]
    valid = Variable(FloatTensor(batch_size, 1).fill_(1.0), requires_grad=False)
    fake = Variable(FloatTensor(batch_size, 1).fill_(0.0), requires_grad=False)
    real_imgs = Variable(torch.from_numpy(real[i]).type(FloatTensor))

    optimizer_G.zero_grad()
    z = Variable(FloatTensor(noise[i]))
    label_input = to_categorical(rng.randint(0, n_classes, batch_size), num_columns=n_classes)
    code_input = Variable(FloatTensor(rng.uniform(-1, 1, (batch_size, code_dim))))
    gen_imgs = generator(z, label_input, code_input)
    validity, _, _ = discriminator(gen_imgs)
    g_loss = adversarial_loss(validity, valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    real_pred, _, _ = discriminator(real_imgs)
    d_real_loss = adversarial_loss(real_pred, valid)
    fake_pred, _, _ = discriminator(gen_imgs.detach())
    d_fake_loss = adversarial_loss(fake_pred, fake)
    d_loss = (d_real_loss + d_fake_loss) / 2
    d_loss.backward()
    optimizer_D.step()

    optimizer_info.zero_grad()
    sampled_labels = rng.randint(0, n_classes, batch_size)
    gt_labels = Variable(LongTensor(sampled_labels), requires_grad=False)
    label_input = to_categorical(sampled_labels, num_columns=n_classes)
    code_input = Variable(FloatTensor(rng.uniform(-1, 1, (batch_size, code_dim))))
    gen_imgs = generator(z, label_input, code_input)
    _, pred_label, pred_code = discriminator(gen_imgs)
    info_loss = lambda_cat * categorical_loss(pred_label, gt_labels) + lambda_con * continuous_loss(
        pred_code, code_input)
    info_loss.backward()
    optimizer_info.step()
    losses.append((d_loss.item(), g_loss.item(), info_loss.item()))
'''

LOADER_SCHEDULER = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import ExponentialLR, StepLR
from torch.utils.data import DataLoader, TensorDataset

G = nn.Sequential(nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 256), nn.Tanh())
D = nn.Sequential(nn.Flatten(), nn.Linear(256, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
models = {"G": G, "D": D}
''' + SYNC + '''
dataset = TensorDataset(torch.from_numpy(np.concatenate(real)), torch.from_numpy(np.concatenate(labels)))
loader = DataLoader(dataset, batch_size=real[0].shape[0], shuffle=False, drop_last=True)
opt_G = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_D = torch.optim.SGD(D.parameters(), lr=0.05, momentum=0.9)
sched_G = StepLR(opt_G, step_size=1, gamma=0.5)
sched_D = ExponentialLR(opt_D, gamma=0.9)
fixed = torch.from_numpy(noise[0])

step = 0
for epoch in range(2):
    for imgs, _ in loader:
        if step == steps:
            break
        z = torch.from_numpy(noise[step])
        fake = G(z)
        d_real, d_fake = D(imgs), D(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \\
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_D.zero_grad()
        d_loss.backward()
        torch.nn.utils.clip_grad_norm_(D.parameters(), max_norm=1.0)
        opt_D.step()

        g_out = D(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
        opt_G.zero_grad()
        g_loss.backward()
        opt_G.step()
        with torch.no_grad():
            sample_mean = G(fixed).mean().item()
        losses.append((d_loss.item(), g_loss.item(), sample_mean, opt_G.param_groups[0]["lr"]))
        step += 1
    sched_G.step()
    sched_D.step()
'''

SCRIPTS = {"mlp_gan": MLP_GAN, "dcgan": DCGAN, "wgan": WGAN, "wgan_gp": WGAN_GP, "cgan": CGAN, "lsgan": LSGAN,
           "infogan": INFOGAN, "loader_scheduler": LOADER_SCHEDULER}


# ==================================================================================================
# The import change, and running a script
# ==================================================================================================
_IMPORT = re.compile(r"^(\s*)(import|from) torch(\.[\w.]+)?(\s|$)(.*)$")


def to_tinygan(source):
    """The script with its import lines changed, torch -> tinygan, and nothing else."""
    out = []
    for line in source.splitlines(keepends=True):
        m = _IMPORT.match(line.rstrip("\n"))
        if m:
            indent, keyword, sub, _, rest = m.groups()
            if keyword == "import" and sub is None and not rest.startswith("as "):
                line = f"{indent}import tinygan as torch{(' ' + rest) if rest else ''}\n"
            else:
                line = f"{indent}{keyword} tinygan{sub or ''} {rest}".rstrip() + "\n"
        out.append(line)
    return "".join(out)


def inputs(seed=0, steps=STEPS):
    """What a script is given: smooth random "images" in [-1, 1] (no dataset needed), labels and noise."""
    rng = np.random.RandomState(seed)
    real, labels, noise = [], [], []
    for _ in range(steps):
        x = rng.randn(BATCH, 1, 17, 17).astype(np.float32)
        x = (x[:, :, 1:, 1:] + x[:, :, :-1, 1:] + x[:, :, 1:, :-1] + x[:, :, :-1, :-1]) / 2     # neighbours agree
        real.append(np.tanh(x).astype(np.float32))
        labels.append(rng.randint(0, 10, BATCH).astype(np.int64))
        noise.append(rng.randn(BATCH, LATENT).astype(np.float32))
    return {"real": real, "labels": labels, "noise": noise, "rng": np.random.RandomState(seed + 1),
            "steps": steps, "latent_dim": LATENT}


def run(name, framework, weights=None, drop_p=0.0, seed=0):
    """Execute the script on ``framework`` ("torch" or "tinygan"); its globals afterwards."""
    source = SCRIPTS[name] if framework == "torch" else to_tinygan(SCRIPTS[name])
    namespace = dict(inputs(seed), weights=weights, losses=[], drop_p=drop_p, __name__=f"{name}_{framework}")
    exec(compile(source, f"<{name} on {framework}>", "exec"), namespace)
    return namespace


def test_only_import_lines_differ():
    for name, source in SCRIPTS.items():
        ported = to_tinygan(source)
        changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines()) if a != b]
        assert len(source.splitlines()) == len(ported.splitlines()) and changed, name
        for before, after in changed:
            assert re.match(r"\s*(import|from) torch\b", before) and "tinygan" in after and "torch" not in \
                after.replace(" as torch", ""), (before, after)
    assert to_tinygan("import torch\nimport torch.nn as nn\nfrom torch.autograd import Variable\n") == \
        "import tinygan as torch\nimport tinygan.nn as nn\nfrom tinygan.autograd import Variable\n"


# ==================================================================================================
# Against PyTorch
# ==================================================================================================
@pytest.fixture
def torch_one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_same_losses_as_torch(name, torch_one_thread):
    theirs = run(name, "torch")
    ours = run(name, "tinygan", weights=theirs["weights"])
    expected, got = np.array(theirs["losses"]), np.array(ours["losses"])
    assert got.shape == expected.shape == (STEPS, expected.shape[1])
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=name)
    for model in ("G", "D"):                                              # and the trained weights
        after = {k: np.asarray(v) for k, v in theirs["models"][model].state_dict().items()}
        for key, value in ours["models"][model].state_dict().items():
            np.testing.assert_allclose(np.asarray(value), after[key], rtol=1e-3, atol=WEIGHT_ATOL,
                                       err_msg=f"{name} {model}.{key}")


# ==================================================================================================
# tinygan alone (what CI runs)
# ==================================================================================================
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_runs_on_tinygan_alone(name):
    ns = run(name, "tinygan", drop_p=0.25)
    losses = np.array(ns["losses"])
    assert losses.shape[0] == STEPS and np.all(np.isfinite(losses)), name
    for model, initial in ns["weights"].items():
        state = ns["models"][model].state_dict()
        assert set(state) == set(initial)
        changed = [k for k in initial if k.endswith("weight") and not np.array_equal(np.asarray(state[k]), initial[k])]
        assert changed, f"{name}: no weight of {model} changed"
    assert all(math.isfinite(float(x)) for x in losses[-1])
    assert isinstance(ns["models"]["G"], tinygan.nn.Module)


# ==================================================================================================
# APIs the public scripts needed (benchmarks/port_pytorch_gan.py found them missing)
# ==================================================================================================
@settings(suppress_health_check=list(settings.default.suppress_health_check) + [HealthCheck.function_scoped_fixture],
          deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       reduction=st.sampled_from(["mean", "sum", "none"]), seed=st.integers(0, 2 ** 16))
def test_l1_loss_forward_gradcheck_and_second_derivative(shape, reduction, seed, device):
    """nn.L1Loss / F.l1_loss (PyTorch-GAN's aae): |x - t| reduced; gradient sign(x - t), checked away from the
    kink at x == t, where PyTorch's gradient is 0."""
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    assume(np.all(np.abs(x - t) > 1e-3))
    tx = tinygan.tensor(x, device=device, requires_grad=True)
    tt = tinygan.tensor(t, device=device, requires_grad=True)
    y = tinygan.nn.L1Loss(reduction=reduction)(tx, tt)
    expected = {"mean": np.abs(x - t).mean(), "sum": np.abs(x - t).sum(), "none": np.abs(x - t)}[reduction]
    np.testing.assert_allclose(tinygan.backend.asnumpy(y.array), expected, rtol=1e-12)
    loss = lambda a, b: F.l1_loss(a, b, reduction=reduction)  # noqa: E731
    assert tinygan.gradcheck(loss, [tx, tt])
    assert tinygan.gradgradcheck(loss, [tx, tt])                        # zero almost everywhere, and recorded


def test_l1_loss_at_the_kink_and_against_torch():
    x = tinygan.tensor([1.0, 2.0, -1.0], requires_grad=True)
    F.l1_loss(x, tinygan.tensor([1.0, 0.0, 0.0]), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, -1.0])     # sign(0) = 0, as PyTorch
    assert repr(tinygan.nn.L1Loss()) == "L1Loss()" and "L1Loss" in tinygan.nn.__all__
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    for reduction in ("mean", "sum", "none"):
        ours_x = tinygan.tensor(a, requires_grad=True)
        theirs_x = torch.tensor(a, requires_grad=True)
        ours = tinygan.nn.L1Loss(reduction=reduction)(ours_x, tinygan.tensor(b))
        theirs = torch.nn.L1Loss(reduction=reduction)(theirs_x, torch.tensor(b))
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-6)


def test_backends_cudnn_imports_as_a_module():
    """pytorch/examples' dcgan: ``import torch.backends.cudnn as cudnn; cudnn.benchmark = True``."""
    import tinygan.backends.cudnn as cudnn
    import tinygan.backends.mps as mps
    assert cudnn is tinygan.backends.cudnn and mps is tinygan.backends.mps
    saved = cudnn.benchmark
    try:
        cudnn.benchmark = True
        assert tinygan.backends.cudnn.benchmark is True
    finally:
        cudnn.benchmark = saved


def test_is_xpu_is_mps_and_indexing_a_0d_tensor():
    x = tinygan.ones(2)
    assert x.is_xpu is False and x.is_mps is False                      # pytorch/examples' dcgan asks is_xpu
    loss = x.sum()
    with pytest.raises(IndexError, match=r"invalid index of a 0-dim tensor. Use `tensor.item\(\)`"):
        loss.data[0]                                                      # PyTorch-GAN's began, on torch too
    with pytest.raises(IndexError, match="0-dim"):
        loss[0:1]
    assert loss[()].item() == 2.0 and loss[...].item() == 2.0 and loss[None].shape == (1,)
    assert x[0].item() == 1.0


def test_random_fills_integers_in_range():
    """Tensor.random_ (PyTorch-GAN's cluster_gan: ``torch.empty(n, dtype=torch.long).random_(n_c)``)."""
    x = tinygan.empty(2000, dtype=tinygan.long)
    version = x._version
    assert x.random_(10) is x and x._version == version + 1 and x.dtype == np.int64
    counts = np.bincount(x.numpy(), minlength=10)
    assert counts.min() > 120 and len(counts) == 10                      # every value of [0, 10), about 200 each
    y = tinygan.zeros(1000).random_(3, 6).numpy()
    assert set(np.unique(y)) == {3.0, 4.0, 5.0} and y.dtype == np.float32
    z = tinygan.zeros(1000).random_().numpy()
    assert np.all(z == np.floor(z)) and 0 <= z.min() and z.max() <= 2 ** 24 and z.max() > 2 ** 20
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        tinygan.zeros(2).random_(5, 5)
    with pytest.raises(RuntimeError, match="leaf"):
        tinygan.zeros(2, requires_grad=True).random_(3)
    tinygan.manual_seed(1)
    a = tinygan.zeros(50).random_(100).numpy()
    tinygan.manual_seed(1)
    assert np.array_equal(a, tinygan.zeros(50).random_(100).numpy())   # tinygan's seeded generator


def test_scatter_by_hand_and_against_torch():
    """Tensor.scatter_ (cluster_gan's one-hot codes: ``zeros(n, c).scatter_(1, idx.unsqueeze(1), 1.)``)."""
    one_hot = tinygan.zeros(3, 4).scatter_(1, tinygan.tensor([[1], [0], [3]]), 1.0)
    np.testing.assert_array_equal(one_hot.numpy(), [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    x = tinygan.zeros(3, 5).scatter_(0, tinygan.tensor([[0, 1, 2], [2, 0, 1]]), tinygan.tensor(
        np.arange(1, 16, dtype=np.float32).reshape(3, 5)))
    np.testing.assert_array_equal(x.numpy(), [[1, 7, 0, 0, 0], [0, 2, 8, 0, 0], [6, 0, 3, 0, 0]])
    with pytest.raises(RuntimeError, match="int64"):
        tinygan.zeros(2, 2).scatter_(1, tinygan.zeros(2, 1), 1.0)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for dim in (0, 1, -1):
        base = rng.standard_normal((4, 5)).astype(np.float32)
        src = rng.standard_normal((4, 5)).astype(np.float32)
        n = 4 if dim == 0 else 5                  # distinct indices along dim: PyTorch's order is undefined on repeats
        idx = np.stack([rng.permutation(n)[:3] for _ in range(2)], axis=1 if dim == 0 else 0)   # (3, 2) or (2, 3)
        ours = tinygan.tensor(base.copy()).scatter_(dim, tinygan.tensor(idx), tinygan.tensor(src))
        theirs = torch.tensor(base.copy()).scatter_(dim, torch.tensor(idx), torch.tensor(src))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
