"""The seed's toy model. A Data Owner maps a pickled `__main__` to this module with module_aliases."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self) -> None:
        super(Net, self).__init__()
        self.fc1 = nn.Linear(5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        x = torch.sigmoid(x)
        return x
