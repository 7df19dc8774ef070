import './ui/experiments/reweighting-view';
